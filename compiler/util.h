/* util: the few things every stage needs and C does not give.
 *
 * Arena: the allocator for everything that lives as long as one compilation
 * (tokens, AST, IR, interned strings).  Allocation never fails (out of memory
 * aborts with a message), memory is zeroed, and it is all released at once by
 * arena_free, so no stage writes free() code for its data structures.
 *
 * Vec: a growable array of pointers or plain values, for lists whose length is
 * not known up front (statements, graph nodes).  It lives in the heap so that it
 * can grow without wasting arena space; vec_free releases it.
 */
#ifndef NNC_UTIL_H
#define NNC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct Arena Arena;

Arena *arena_new(void);
void *arena_alloc(Arena *a, size_t size);          /* zeroed, max-aligned, never NULL */
void arena_free(Arena *a);                         /* NULL is fine */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) PRINTF_LIKE(2, 3);
#define NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define NEW_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

/* Running out of memory is the user's data or model being too big for the
 * machine (sema refuses sizes no machine could hold): out_of_memory says how
 * many bytes were asked for and exits with status 1, not an abort.  The heap
 * helpers never return NULL; they end there. */
NORETURN void out_of_memory(double bytes);
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

/* A large buffer (a data set, the tensor store, a workspace) of at least
 * bytes, aligned to align (a power of two), or NULL when the memory is not
 * there; free() releases it.  From 2 MiB up it is aligned to 2 MiB and
 * offered to the kernel for transparent huge pages: one page fault per 2 MiB
 * instead of 512, and fewer TLB misses for a gather's scattered rows. */
void *big_alloc(size_t bytes, size_t align);

/* Internal invariant broken: print and abort.  Never for user input. */
NORETURN void die(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Growable array of void pointers. */
typedef struct {
  void **items;   /* items[0..len) */
  int len;        /* number of items in use */
  int cap;        /* allocated slots */
} Vec;
void vec_push(Vec *v, void *item);
void vec_free(Vec *v);

/* Edit distance (Levenshtein), for "did you mean" suggestions. */
int edit_distance(const char *a, const char *b);
/* The candidate closest to `name`, or NULL when none is close enough to be a
 * plausible typo (distance at most a third of the name's length, at least 1). */
const char *closest_name(const char *name, const char *const *candidates, int n);

/* Formats a message into err (errlen bytes) and returns false: the shape of
 * every "return false with a reason" path in the loaders. */
bool errorf(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Reads a whole file into a heap buffer (NUL-terminated).  Returns NULL and
 * sets errno on failure.  *len receives the length without the NUL. */
char *read_file(const char *path, size_t *len);

#endif
