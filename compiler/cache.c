/* cache: keys, trusted directories and whole-file entries (see cache.h). */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <llvm-c/Core.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"
#include "util.h"
#include "version.h"

enum {
  HEADER_BYTES = 48,
  FORMAT = 2,   /* 1: the payload's CRC-32 */
};
static const char MAGIC[8] = "NNCOBJ\0";
#define MAX_ENTRY_BYTES (CACHE_MAX_PAYLOAD + HEADER_BYTES)

/* ---- hashing: two 64-bit lanes, each a multiply-xorshift chain ---- */

static uint64_t mix(uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  return x ^ (x >> 32);
}

void hash_init(Hasher *h) { *h = (Hasher){0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0}; }

void hash_bytes(Hasher *h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w = 0;
    size_t k = n - i < 8 ? n - i : 8;
    for (size_t j = 0; j < k; j++) w |= (uint64_t)p[i + j] << (8 * j);
    h->a = mix(h->a ^ w) + 0x9e3779b97f4a7c15ull;
    h->b = mix(h->b + w * 0xff51afd7ed558ccdull) ^ h->a;
  }
  h->n += n;
}

void hash_str(Hasher *h, const char *s) { hash_bytes(h, s, strlen(s) + 1); }

/* ---- payload checksum ----
 * Eight 64-bit lanes, each a chain over every eighth word: added in times an
 * odd constant, rotated, times another (each step a bijection of the lane,
 * so a change to one word always reaches the result), then hashed with the
 * tail and the length.  zlib's CRC-32 ran at 6 GB/s, 8 ms of every start
 * for the 47 MB of Fashion-MNIST's images (AMD Zen 5); this keeps up with
 * memory, and entries are summed as they are read, a block at a time, while
 * the block is still in the cache. */
enum { LANES = 8, SUM_BLOCK = LANES * 8 };
typedef struct {
  uint64_t lane[LANES];
  uint64_t n;   /* bytes taken */
} Checksum;

static void checksum_init(Checksum *c) {
  for (int l = 0; l < LANES; l++) c->lane[l] = 0x9e3779b97f4a7c15ull * (uint64_t)(l + 1);
  c->n = 0;
}

/* Takes n bytes, a multiple of SUM_BLOCK. */
static void checksum_blocks(Checksum *c, const unsigned char *p, size_t n) {
  uint64_t lane[LANES];   /* a local copy, kept in registers: p might alias c */
  memcpy(lane, c->lane, sizeof lane);
  for (size_t i = 0; i < n; i += SUM_BLOCK)
    for (int l = 0; l < LANES; l++) {
      uint64_t w;
      memcpy(&w, p + i + 8 * (size_t)l, 8);
      uint64_t x = lane[l] + w * 0xc2b2ae3d27d4eb4full;
      lane[l] = ((x << 31) | (x >> 33)) * 0x9e3779b185ebca87ull;
    }
  memcpy(c->lane, lane, sizeof lane);
  c->n += n;
}

/* The sum, with the last n bytes (any number). */
static uint64_t checksum_done(Checksum *c, const unsigned char *p, size_t n) {
  size_t whole = n / SUM_BLOCK * SUM_BLOCK;
  checksum_blocks(c, p, whole);
  Hasher h;
  hash_init(&h);
  hash_bytes(&h, c->lane, sizeof c->lane);
  hash_bytes(&h, p + whole, n - whole);
  uint64_t total = c->n + (n - whole);
  hash_bytes(&h, &total, sizeof total);
  return hash_done(&h).h[0];
}

uint64_t cache_checksum(const void *data, size_t n) {
  Checksum c;
  checksum_init(&c);
  return checksum_done(&c, data, n);
}

CacheKey hash_done(const Hasher *h) {
  CacheKey k = {{mix(h->a ^ h->n), mix(h->b + h->n * 0x9e3779b97f4a7c15ull)}};
  return k;
}

/* ---- what identifies this program ---- */

typedef struct {
  Hasher *h;
  bool found;
} BuildId;

/* The running program's NT_GNU_BUILD_ID note. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)size;
  BuildId *b = ctx;
  if (info->dlpi_name && info->dlpi_name[0]) return 0;   /* the executable comes first, unnamed */
  for (int i = 0; i < info->dlpi_phnum && !b->found; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE) continue;
    const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *n = (const void *)p;
      const unsigned char *name = p + sizeof *n, *desc = name + ((n->n_namesz + 3) & ~3u);
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        hash_bytes(b->h, desc, n->n_descsz);
        b->found = true;
        break;
      }
      p = desc + ((n->n_descsz + 3) & ~3u);
    }
  }
  return 1;
}

void cache_hash_build(Hasher *h) {
  hash_str(h, "nnc " NNC_VERSION);
  unsigned v[3];
  LLVMGetVersion(&v[0], &v[1], &v[2]);
  hash_bytes(h, v, sizeof v);
  BuildId b = {h, false};
  dl_iterate_phdr(find_build_id, &b);
  if (b.found) return;
  /* no build-id: the program's bytes themselves */
  size_t len;
  char *exe = read_file("/proc/self/exe", &len);
  if (exe) hash_bytes(h, exe, len);
  free(exe);
}

/* ---- the directory ---- */

/* graphs may compile on several threads at once (session.c) */
static atomic_bool noted;
static _Thread_local char dir[4096];

/* One note per process: the cache is skipped, the run goes on. */
static void note(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void note(const char *fmt, ...) {
  if (atomic_exchange(&noted, true)) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nnc: note: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "; going on without it\n");
  va_end(ap);
}

static int mkdir_parents(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int rc = mkdir(path, 0755);
    *p = '/';
    if (rc != 0 && errno != EEXIST) return -1;
  }
  return mkdir(path, 0700);
}

/* Resolves the directory and checks it may be trusted; creates it when
 * asked.  false: no cache this time (noted when the user should know). */
static bool usable_dir(bool create) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int n = xdg && xdg[0] == '/' ? snprintf(dir, sizeof dir, "%s/nnc", xdg)
          : home && home[0]   ? snprintf(dir, sizeof dir, "%s/.cache/nnc", home)
                              : (dir[0] = 0, 0);
  if (n <= 0 || (size_t)n >= sizeof dir - 64) return false;
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT || !create) return false;
    if (mkdir_parents(dir) != 0 && errno != EEXIST) {
      note("cannot create the cache %s: %s", dir, strerror(errno));
      return false;
    }
    if (stat(dir, &st) != 0) return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    note("the cache %s is not a directory", dir);
    return false;
  }
  if (st.st_uid != geteuid()) {
    note("the cache %s belongs to user %u, not to you", dir, (unsigned)st.st_uid);
    return false;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    note("the cache %s is writable by others (mode %03o); its code would not be trusted", dir,
         (unsigned)(st.st_mode & 0777));
    return false;
  }
  return true;
}

/* NAME.o for object code, NAME.data for a data file's bytes. */
static void entry_path(const CacheKey *name, const char *suffix, char *out, size_t n) {
  snprintf(out, n, "%s/%016llx%016llx%s", dir, (unsigned long long)name->h[0], (unsigned long long)name->h[1],
           suffix);
}

/* ---- entries ---- */

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void make_header(unsigned char *hdr, const CacheKey *k, const void *data, size_t len) {
  memset(hdr, 0, HEADER_BYTES);
  memcpy(hdr, MAGIC, 8);
  put64(hdr + 8, FORMAT);
  put64(hdr + 16, k->h[0]);
  put64(hdr + 24, k->h[1]);
  put64(hdr + 32, len);
  put64(hdr + 40, cache_checksum(data, len));
}

static bool read_all(int fd, void *buf, size_t n) {
  for (size_t done = 0; done < n;) {
    ssize_t r = read(fd, (char *)buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += (size_t)r;
  }
  return true;
}

/* Reads n bytes into buf and their checksum into *sum, 1 MiB at a time. */
static bool read_summed(int fd, void *buf, size_t n, uint64_t *sum) {
  enum { CHUNK = 1 << 20 };   /* a multiple of SUM_BLOCK */
  unsigned char *p = buf;
  Checksum c;
  checksum_init(&c);
  size_t done = 0;
  for (; n - done > CHUNK; done += CHUNK) {
    if (!read_all(fd, p + done, CHUNK)) return false;
    checksum_blocks(&c, p + done, CHUNK);
  }
  if (!read_all(fd, p + done, n - done)) return false;
  *sum = checksum_done(&c, p + done, n - done);
  return true;
}

/* The entry NAME+suffix, opened and read up to its payload when it may be
 * trusted and its header holds key and the file's size: an open fd, the
 * payload's size and checksum; else -1. */
static int open_entry(const CacheKey *name, const CacheKey *key, const char *suffix, size_t *len, uint64_t *sum) {
  if (!usable_dir(false)) return -1;
  char path[4200];
  entry_path(name, suffix, path, sizeof path);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  unsigned char hdr[HEADER_BYTES];
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            !(st.st_mode & (S_IWGRP | S_IWOTH)) && (size_t)st.st_size > HEADER_BYTES &&
            (size_t)st.st_size <= MAX_ENTRY_BYTES && read_all(fd, hdr, HEADER_BYTES) &&
            memcmp(hdr, MAGIC, 8) == 0 && get64(hdr + 8) == FORMAT && get64(hdr + 16) == key->h[0] &&
            get64(hdr + 24) == key->h[1] && get64(hdr + 32) == (uint64_t)st.st_size - HEADER_BYTES;
  if (!ok) {
    close(fd);
    return -1;
  }
  *len = (size_t)st.st_size - HEADER_BYTES;
  *sum = get64(hdr + 40);
  return fd;
}

bool cache_load(const CacheKey *key, void **data, size_t *len) {
  uint64_t sum;
  int fd = open_entry(key, key, ".o", len, &sum);
  if (fd < 0) return false;
  void *buf = xmalloc(*len);
  uint64_t got;
  bool ok = read_summed(fd, buf, *len, &got) && got == sum;
  close(fd);
  if (!ok) {
    free(buf);
    return false;
  }
  *data = buf;
  return true;
}

bool cache_load_data(const CacheKey *name, const CacheKey *key, void *buf, size_t len) {
  size_t stored;
  uint64_t sum;
  int fd = open_entry(name, key, ".data", &stored, &sum);
  if (fd < 0) return false;
  uint64_t got;
  bool ok = stored == len && read_summed(fd, buf, len, &got) && got == sum;
  close(fd);
  return ok;
}

static void store_entry(const CacheKey *name, const CacheKey *key, const char *suffix, const void *data,
                        size_t len) {
  if (len == 0 || len > CACHE_MAX_PAYLOAD || !usable_dir(true)) return;
  char path[4200], err[4400];
  entry_path(name, suffix, path, sizeof path);
  unsigned char hdr[HEADER_BYTES];
  make_header(hdr, key, data, len);
  /* whole or not at all, mode 0600, not synced: a lost entry is a miss */
  OutPart parts[2] = {{hdr, HEADER_BYTES}, {data, len}};
  if (!outfile_write_private(path, parts, 2, err, sizeof err)) note("cannot write to the cache: %s", err);
}

void cache_store(const CacheKey *key, const void *data, size_t len) { store_entry(key, key, ".o", data, len); }

void cache_store_data(const CacheKey *name, const CacheKey *key, const void *data, size_t len) {
  store_entry(name, key, ".data", data, len);
}
