/* fuzz_cache: compile-cache entries as the cache reads them.
 *
 * The input is put in a private cache directory as the entry of a fixed key
 * and loaded, as it is and again with the header's key, size and checksum made to
 * match (as an entry written by another build or damaged in place would not
 * be): a load must refuse the first kind unless it is whole and, when it
 * accepts, hand back exactly the bytes after the header.  The entry's code
 * is never run here: the checksum stands between a damaged file and the JIT,
 * and the key between another build's code and this one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "fuzz.h"

enum { HEADER = 48 };   /* magic, format, key, payload size, checksum: cache.h */

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Loads the entry at path holding data[0..size) for key; checks the answer. */
static void load(const CacheKey *key, const char *path, const uint8_t *data, size_t size) {
  fuzz_write(path, data, size);
  chmod(path, 0600);
  void *got = NULL;
  size_t len = 0;
  if (!cache_load(key, &got, &len)) return;
  if (size < HEADER || len != size - HEADER || memcmp(got, data + HEADER, len) != 0 ||
      memcmp(data, "NNCOBJ\0", 8) != 0 || get64(data + 40) != cache_checksum(data + HEADER, len))
    fuzz_fail("the cache accepted an entry that is not whole");
  free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[256];
  static const CacheKey key = {{0x0123456789abcdefull, 0xfedcba9876543210ull}};
  if (!path[0]) {
    setenv("XDG_CACHE_HOME", fuzz_dir(), 1);
    mkdir(fuzz_path("nnc"), 0700);
    snprintf(path, sizeof path, "%s/nnc/%016llx%016llx.o", fuzz_dir(), (unsigned long long)key.h[0],
             (unsigned long long)key.h[1]);
  }
  load(&key, path, data, size);
  if (size < HEADER || size > (1 << 20)) return 0;
  uint8_t *sealed = malloc(size);
  memcpy(sealed, data, size);
  put64(sealed + 16, key.h[0]);
  put64(sealed + 24, key.h[1]);
  put64(sealed + 32, size - HEADER);
  put64(sealed + 40, cache_checksum(sealed + HEADER, size - HEADER));
  load(&key, path, sealed, size);
  free(sealed);
  return 0;
}
