/* cache: compiled object code kept between runs, so a second `nnc train` of
 * the same model reaches its first step without running LLVM; and the
 * inflated bytes of large gzipped data files, so it need not inflate them
 * again either (data.c).
 *
 * Object key: a 128-bit hash of everything the object code depends on -- the
 * graph's text (ir_print), its schedule, the target (triple, CPU, features),
 * the optimization level, nnc's version, the build of the running program
 * (its GNU build-id) and LLVM's version.  A change to any of them is a miss,
 * never a stale hit.  Data key: the file's real path, device, inode, size,
 * modification and change times (data.c), so a file changed or replaced is
 * a miss; its entry is named by the path alone, so the file's next version
 * replaces it rather than adding one.
 *
 * Where: $XDG_CACHE_HOME/nnc, else $HOME/.cache/nnc, one file per entry,
 * KEY.o or NAME.data: a 48-byte header (magic "NNCOBJ\0\0", format version,
 * the key, the payload's size and checksum, little endian) and the payload.
 * The checksum (cache_checksum) reads the payload's words in the host's byte
 * order: a cache shared with a machine of the other order misses, never
 * trusts.
 *
 * Trust: the cache holds code nnc will execute, so entries are read only
 * from a directory owned by this user and writable by no one else, only
 * from regular files owned by this user, and only when header, size and
 * checksum agree; anything else is a miss (compiled or inflated again and
 * replaced), never a crash.  Entries are written by outfile_write_private
 * (an unnamed file renamed into place when complete, mode 0600), so a crash
 * or a concurrent writer leaves a whole entry or none.  A cache that cannot
 * be used (read-only, full, wrong owner) costs one note on standard error
 * per process; nnc then goes on as if there were none.  Nothing is ever
 * removed: `rm -r ~/.cache/nnc` empties it.
 */
#ifndef NNC_CACHE_H
#define NNC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t h[2];   /* the 128-bit key */
} CacheKey;

/* Streaming hash for keys. */
typedef struct {
  uint64_t a, b;   /* two lanes */
  uint64_t n;      /* bytes taken */
} Hasher;
void hash_init(Hasher *h);
void hash_bytes(Hasher *h, const void *data, size_t n);
void hash_str(Hasher *h, const char *s);   /* the string and its terminator */
CacheKey hash_done(const Hasher *h);

/* The checksum an entry's header holds of its payload. */
uint64_t cache_checksum(const void *data, size_t n);

/* Adds what identifies this nnc and LLVM (version, build-id, LLVM version). */
void cache_hash_build(Hasher *h);

/* The object stored under key, or false (a miss: absent, foreign, corrupt or
 * untrusted).  *data is heap memory the caller frees. */
bool cache_load(const CacheKey *key, void **data, size_t *len);
/* Stores an object under key; failures are noted once, never fatal. */
void cache_store(const CacheKey *key, const void *data, size_t len);

/* The largest payload an entry holds. */
#define CACHE_MAX_PAYLOAD (((size_t)1 << 30) - 64)

/* Data entries, named by name and holding key: the len bytes stored read
 * into buf, true only when the entry holds key and exactly len bytes that
 * match its checksum (buf may have been written either way). */
bool cache_load_data(const CacheKey *name, const CacheKey *key, void *buf, size_t len);
void cache_store_data(const CacheKey *name, const CacheKey *key, const void *data, size_t len);

#endif
