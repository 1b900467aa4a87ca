/* util: arena, heap helpers, growable arrays, edit distance, file reading. */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* Blocks are chained; a request larger than the default block gets a block of
 * its own, so big IR buffers do not waste the rest of a block. */
typedef struct Block {
  struct Block *next;   /* previously filled block */
  size_t used;          /* bytes handed out from data */
  size_t size;          /* bytes available in data */
  max_align_t data[];   /* the memory itself, max-aligned */
} Block;

struct Arena {
  Block *head;          /* block currently being filled */
};

enum { ARENA_BLOCK = 64 * 1024 };

/* _exit, not exit: data may load on a thread of its own while LLVM compiles
 * on others, and exit would run LLVM's static destructors under them. */
void out_of_memory(double bytes) {
  fprintf(stderr, "nnc: out of memory: cannot allocate %.0f bytes (%.3g GiB); a smaller batch or model, or "
                  "less data, needs less\n", bytes, bytes / (1024.0 * 1024 * 1024));
  fflush(NULL);
  _exit(1);
}

void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p) out_of_memory((double)size);
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) out_of_memory((double)n * (double)size);
  return p;
}

/* On a virtual machine a first touch of a 4 KiB page cost about 11 us (writing
 * 47 MB: 127-148 ms in 4 KiB pages, 10 ms in 2 MiB pages; AMD Zen 5 guest).
 * From a quarter of a huge page up, a buffer takes whole huge pages (a
 * 512 KiB one takes 2 MiB), against 128 first touches or more (the
 * three 0.9-1.9 MB buffers of fashion_mlp's parameters, their Adam state and
 * gradient: 9.9 -> 0.6 ms to allocate and clear). */
void *big_alloc(size_t bytes, size_t align) {
  enum { HUGE_PAGE = 2 << 20 };
  if (bytes >= HUGE_PAGE / 4 && align < HUGE_PAGE) align = HUGE_PAGE;
  if (bytes > SIZE_MAX - align) return NULL;
  size_t size = (bytes ? bytes + align - 1 : align) / align * align;
  void *p = aligned_alloc(align, size);
#ifdef MADV_HUGEPAGE   /* Linux */
  if (p && align == HUGE_PAGE) madvise(p, size, MADV_HUGEPAGE);   /* advice: ignored where it is off */
#endif
  return p;
}

void *xrealloc(void *p, size_t size) {
  p = realloc(p, size ? size : 1);
  if (!p) out_of_memory((double)size);
  return p;
}

char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nnc: internal error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

Arena *arena_new(void) { return xcalloc(1, sizeof(Arena)); }

void *arena_alloc(Arena *a, size_t size) {
  const size_t align = sizeof(max_align_t);
  size = (size + align - 1) / align * align;
  if (size == 0) size = align;
  Block *b = a->head;
  if (!b || b->size - b->used < size) {
    size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    Block *nb = xmalloc(sizeof(Block) + cap);
    nb->used = 0;
    nb->size = cap;
    if (b && size > ARENA_BLOCK && b->size - b->used >= ARENA_BLOCK / 4) {
      /* keep filling the current block; slot the big one behind it */
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      a->head = nb;
    }
    b = nb;
  }
  void *p = (char *)b->data + b->used;
  b->used += size;
  return memset(p, 0, size);
}

void arena_free(Arena *a) {
  if (!a) return;
  for (Block *b = a->head, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  free(a);
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = arena_alloc(a, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void vec_push(Vec *v, void *item) {
  if (v->len == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 8;
    v->items = xrealloc(v->items, sizeof(void *) * (size_t)v->cap);
  }
  v->items[v->len++] = item;
}

void vec_free(Vec *v) {
  free(v->items);
  *v = (Vec){0};
}

int edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 64 || m > 64) return (int)(n > m ? n : m);
  int row[65];
  for (size_t j = 0; j <= m; j++) row[j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[m];
}

const char *closest_name(const char *name, const char *const *candidates, int n) {
  int limit = (int)strlen(name) / 3;
  if (limit < 1) limit = 1;
  const char *best = NULL;
  int best_d = limit + 1;
  for (int i = 0; i < n; i++) {
    int d = edit_distance(name, candidates[i]);
    if (d < best_d && strcmp(name, candidates[i]) != 0) {
      best_d = d;
      best = candidates[i];
    }
  }
  return best;
}

char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = xmalloc(cap);
  for (;;) {
    if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f), err = errno;   /* EISDIR for a directory */
  fclose(f);
  if (failed) {
    free(buf);
    errno = err ? err : EIO;
    return NULL;
  }
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

bool errorf(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return false;
}
