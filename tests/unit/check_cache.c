/* Tests of the cache (cache.c) and its use by the JIT and the data reader: a
 * hit loads the same code a miss compiles, the same items a miss inflates;
 * corrupt, truncated, foreign and untrusted entries are misses, compiled or
 * inflated again and replaced; two writers at once leave one whole entry; a
 * cache that cannot be used is noted and skipped. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cache.h"
#include "data.h"
#include "jit.h"
#include "testutil.h"

/* A small graph with a product, an epilogue and a reduction. */
static IrGraph *small_graph(Arena *a, double bias) {
  IrGraph *g = ir_graph_new(a, "cached", 4);
  IrNode *x = ir_input(g, "x", shape_2(4, 8)), *w = ir_param(g, "w", shape_2(8, 3), (IrInit){0});
  IrNode *h = ir_binary(g, OP_MAX, ir_binary(g, OP_ADD, ir_matmul(g, x, w, false, false), ir_const(g, bias)),
                        ir_const(g, 0));
  ir_output(g, "s", ir_reduce(g, OP_SUM, h, 3));
  return g;
}

/* Compiles g, runs it on fixed inputs; returns the output and whether the
 * code came from the cache. */
static float run(IrGraph *g, bool *from_cache) {
  char err[512];
  JitGraph *j = jit_compile(g, NULL, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  float *x = aligned_alloc(64, 64 * sizeof(float)), *w = aligned_alloc(64, 64 * sizeof(float));
  for (int i = 0; i < 32; i++) x[i] = (float)(i % 7) - 3;
  for (int i = 0; i < 24; i++) w[i] = (float)(i % 5) * 0.25f;
  for (int i = 0; i < jit_nleaves(j); i++) jit_bind(j, i, jit_leaf(j, i)->op == OP_INPUT ? x : w);
  jit_run(j);
  float s = jit_output(j, "s")[0];
  *from_cache = jit_from_cache(j);
  jit_free(j);
  free(x);
  free(w);
  return s;
}

/* The one entry in the cache directory (the test fails unless exactly one). */
static const char *only_entry(void) {
  static char path[4700], dir[4400];
  snprintf(dir, sizeof dir, "%s/nnc", tmpdir_path());
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      n++;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    }
  closedir(d);
  ck_assert_msg(n == 1, "%d files in the cache, want one entry", n);
  ck_assert_msg(strlen(path) > 2 && !strcmp(path + strlen(path) - 2, ".o"), "stray file %s", path);
  return path;
}

static void setup(void) {
  tmpdir_setup();
  setenv("XDG_CACHE_HOME", tmpdir_path(), 1);
}

START_TEST(hit_after_miss) {
  Arena *a = arena_new();
  bool cached;
  float first = run(small_graph(a, 0.5), &cached);
  ck_assert(!cached);
  only_entry();
  float second = run(small_graph(a, 0.5), &cached);
  ck_assert_msg(cached, "second compile did not hit");
  ck_assert(first == second);
  /* another constant is another key: a miss, not a stale hit */
  float other = run(small_graph(a, 0.75), &cached);
  ck_assert(!cached);
  ck_assert(other != first);
  arena_free(a);
}
END_TEST

/* Rewrites byte `at` of the entry (from its end when negative). */
static void damage(const char *path, long at) {
  int fd = open(path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  off_t size = lseek(fd, 0, SEEK_END);
  off_t pos = at >= 0 ? at : size + at;
  unsigned char c;
  ck_assert_int_eq(pread(fd, &c, 1, pos), 1);
  c ^= 0x5a;
  ck_assert_int_eq(pwrite(fd, &c, 1, pos), 1);
  close(fd);
}

/* A corrupt payload, a wrong key in the header (a foreign entry), a
 * foreign format and a truncated file are all misses; the entry is then
 * replaced by a good one. */
START_TEST(bad_entries_are_replaced) {
  Arena *a = arena_new();
  bool cached;
  float want = run(small_graph(a, 0.5), &cached);
  const char *path = only_entry();
  long spots[] = {-1, 20, 8, 40};   /* payload, key, format version, checksum */
  for (size_t i = 0; i < COUNT_OF(spots); i++) {
    damage(path, spots[i]);
    ck_assert(run(small_graph(a, 0.5), &cached) == want);
    ck_assert_msg(!cached, "damage at %ld was trusted", spots[i]);
    ck_assert(run(small_graph(a, 0.5), &cached) == want && cached);   /* replaced */
  }
  ck_assert_int_eq(truncate(path, 100), 0);
  ck_assert(run(small_graph(a, 0.5), &cached) == want && !cached);
  ck_assert_int_eq(truncate(path, 0), 0);
  ck_assert(run(small_graph(a, 0.5), &cached) == want && !cached);
  ck_assert(run(small_graph(a, 0.5), &cached) == want && cached);
  only_entry();
  arena_free(a);
}
END_TEST

/* Code nnc will run is loaded only from a directory and files no one else
 * can write. */
START_TEST(untrusted_directory) {
  Arena *a = arena_new();
  bool cached;
  float want = run(small_graph(a, 0.5), &cached);
  const char *path = only_entry();
  char dir[4400];
  snprintf(dir, sizeof dir, "%s/nnc", tmpdir_path());
  ck_assert_int_eq(chmod(dir, 0777), 0);
  ck_assert(run(small_graph(a, 0.5), &cached) == want && !cached);
  ck_assert_int_eq(chmod(dir, 0700), 0);
  ck_assert_int_eq(chmod(path, 0666), 0);   /* an entry others could rewrite */
  ck_assert(run(small_graph(a, 0.5), &cached) == want && !cached);
  ck_assert(run(small_graph(a, 0.5), &cached) == want && cached);   /* replaced, 0600 */
  if (geteuid() == 0) {   /* only root can give the directory away */
    ck_assert_int_eq(chown(dir, 65534, 65534), 0);
    ck_assert(run(small_graph(a, 0.5), &cached) == want && !cached);
  }
  arena_free(a);
}
END_TEST

/* No usable directory (it cannot be created, or is a file): still compiles. */
START_TEST(no_usable_directory) {
  Arena *a = arena_new();
  bool cached;
  setenv("XDG_CACHE_HOME", "/proc/self/nonexistent", 1);
  float want = run(small_graph(a, 0.5), &cached);
  ck_assert(!cached);
  ck_assert(run(small_graph(a, 0.5), &cached) == want && !cached);
  char file[4400];
  snprintf(file, sizeof file, "%s/nnc", tmpdir_path());
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  setenv("XDG_CACHE_HOME", tmpdir_path(), 1);
  ck_assert(run(small_graph(a, 0.5), &cached) == want && !cached);
  arena_free(a);
}
END_TEST

/* Two processes filling the same empty cache at once: both run, and one
 * whole entry remains (no temporary files). */
START_TEST(concurrent_writers) {
  pid_t pid[2];
  for (int i = 0; i < 2; i++) {
    pid[i] = fork();
    ck_assert_int_ge(pid[i], 0);
    if (pid[i] == 0) {
      Arena *a = arena_new();
      bool cached;
      float s = run(small_graph(a, 0.5), &cached);
      _exit(s == s ? 0 : 1);
    }
  }
  for (int i = 0; i < 2; i++) {
    int st;
    ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  only_entry();
  Arena *a = arena_new();
  bool cached;
  run(small_graph(a, 0.5), &cached);
  ck_assert(cached);
  arena_free(a);
}
END_TEST

/* A gzipped IDX pair of n 28x28 images (more than a MiB inflated: cached)
 * whose pixels depend on salt, and their labels. */
static void write_idx(const char *prefix, int n, int salt) {
  char path[4400];
  snprintf(path, sizeof path, "%s-images-idx3-ubyte.gz", prefix);
  gzFile f = gzopen(path, "wb1");
  ck_assert_ptr_nonnull(f);
  unsigned char head[16] = {0, 0, 8, 3, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                            (unsigned char)n, 0, 0, 0, 28, 0, 0, 0, 28};
  ck_assert_int_eq(gzwrite(f, head, 16), 16);
  unsigned char row[784];
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < 784; k++) row[k] = (unsigned char)(i * 31 + k * 7 + salt);
    ck_assert_int_eq(gzwrite(f, row, 784), 784);
  }
  gzclose(f);
  snprintf(path, sizeof path, "%s-labels-idx1-ubyte.gz", prefix);
  f = gzopen(path, "wb1");
  ck_assert_ptr_nonnull(f);
  unsigned char lhead[8] = {0, 0, 8, 1, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                            (unsigned char)n};
  ck_assert_int_eq(gzwrite(f, lhead, 8), 8);
  for (int i = 0; i < n; i++) ck_assert_int_eq(gzputc(f, i % 10), i % 10);
  gzclose(f);
}

/* The cache's .data entries: how many, and the path of the last. */
static int data_entries(char *last, size_t len) {
  char dir[4400];
  snprintf(dir, sizeof dir, "%s/nnc", tmpdir_path());
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l > 5 && !strcmp(e->d_name + l - 5, ".data")) {
      n++;
      snprintf(last, len, "%s/%s", dir, e->d_name);
    }
  }
  closedir(d);
  return n;
}

/* Loads the pair at prefix (max samples, cache or not); the image bytes. */
static unsigned char *load_images(const char *prefix, int max, bool cache, int *n) {
  DataSpec spec = {.format = DATA_IDX, .path = prefix, .scale = 1.0 / 255, .cache = cache};
  Dataset d;
  char err[512];
  ck_assert_msg(data_load_first(&spec, 784, 10, 10, max, &d, err, sizeof err), "%s", err);
  ck_assert_ptr_nonnull(d.xb);
  *n = d.n;
  unsigned char *bytes = malloc((size_t)d.n * 784);
  memcpy(bytes, d.xb, (size_t)d.n * 784);
  data_free(&d);
  return bytes;
}

/* Sets the entry's checksum to its payload's, as a whole entry with those
 * bytes would have it. */
static void reseal(const char *path) {
  int fd = open(path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  off_t size = lseek(fd, 0, SEEK_END);
  unsigned char *buf = malloc((size_t)size);
  ck_assert_int_eq(pread(fd, buf, (size_t)size, 0), size);
  uint64_t sum = cache_checksum(buf + 48, (size_t)size - 48);
  for (int i = 0; i < 8; i++) buf[40 + i] = (unsigned char)(sum >> (8 * i));
  ck_assert_int_eq(pwrite(fd, buf + 40, 8, 40), 8);
  free(buf);
  close(fd);
}

static ino_t inode_of(const char *path) {
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  return st.st_ino;
}

/* Every item of a large gzipped IDX file goes to the cache inflated and
 * comes back from it; damaged entries are inflated again and replaced; a
 * file rewritten is never served its old items, and its entry is replaced
 * once the file has settled; partial reads and loads that do not ask for
 * the cache neither read nor fill it. */
START_TEST(data_items) {
  const char *prefix = in_tmp("big");
  enum { N = 1500, BYTES = N * 784 };
  write_idx(prefix, N, 0);
  sleep(3);   /* a file changed in the last two seconds is not stored */
  int n;
  char entry[4700];
  free(load_images(prefix, 100, true, &n));
  free(load_images(prefix, INT_MAX, false, &n));
  ck_assert_int_eq(data_entries(entry, sizeof entry), 0);
  unsigned char *want = load_images(prefix, INT_MAX, true, &n);
  ck_assert_int_eq(n, N);
  ck_assert_int_eq(data_entries(entry, sizeof entry), 1);   /* the labels are too small to cache */
  struct stat st;
  ck_assert_int_eq(stat(entry, &st), 0);
  ck_assert_int_eq(st.st_size, 48 + BYTES);
  /* a hit: a payload changed and resealed is what the next whole load gets,
   * and not what a partial load gets */
  damage(entry, 48);
  reseal(entry);
  unsigned char *got = load_images(prefix, INT_MAX, true, &n);
  ck_assert(got[0] == (want[0] ^ 0x5a) && !memcmp(got + 1, want + 1, BYTES - 1));
  free(got);
  got = load_images(prefix, 100, true, &n);
  ck_assert(!memcmp(got, want, 100 * 784));
  free(got);
  damage(entry, 48);
  reseal(entry);
  /* damage (payload, key, checksum) and truncation: inflated again, replaced */
  long spots[] = {-1, 20, 40, 1000};
  for (size_t i = 0; i < COUNT_OF(spots); i++) {
    if (spots[i] == 1000) ck_assert_int_eq(truncate(entry, spots[i]), 0);
    else damage(entry, spots[i]);
    got = load_images(prefix, INT_MAX, true, &n);
    ck_assert_msg(!memcmp(got, want, BYTES), "damage at %ld was trusted", spots[i]);
    free(got);
    ck_assert_int_eq(stat(entry, &st), 0);
    ck_assert_int_eq(st.st_size, 48 + BYTES);
    damage(entry, 48);   /* replaced with a good entry: the next load hits it */
    reseal(entry);
    got = load_images(prefix, INT_MAX, true, &n);
    ck_assert(got[0] != want[0]);
    free(got);
    damage(entry, 48);
    reseal(entry);
  }
  /* the same name and size with other pixels: the new pixels, never stored
   * while the file is fresh, then in place of the old file's entry */
  ino_t old = inode_of(entry);
  write_idx(prefix, N, 1);
  got = load_images(prefix, INT_MAX, true, &n);
  ck_assert(memcmp(got, want, BYTES) != 0 && got[0] == (unsigned char)(want[0] + 1));
  free(got);
  ck_assert_int_eq(data_entries(entry, sizeof entry), 1);
  ck_assert(inode_of(entry) == old);
  sleep(3);
  got = load_images(prefix, INT_MAX, true, &n);
  ck_assert(got[0] == (unsigned char)(want[0] + 1));
  free(got);
  ck_assert_int_eq(data_entries(entry, sizeof entry), 1);
  ck_assert(inode_of(entry) != old);
  free(want);
}
END_TEST

START_TEST(keys_differ) {
  Hasher h;
  CacheKey k[4];
  const char *texts[] = {"a", "b", "ab", ""};
  for (int i = 0; i < 4; i++) {
    hash_init(&h);
    hash_str(&h, texts[i]);
    k[i] = hash_done(&h);
  }
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++) ck_assert(memcmp(&k[i], &k[j], sizeof k[i]) != 0);
}
END_TEST

/* The payload checksum: every flipped bit of a payload (its tail of fewer
 * than 64 bytes included) and every length give another sum. */
START_TEST(checksum_sees_every_bit) {
  enum { N = 203 };
  unsigned char buf[N];
  for (int i = 0; i < N; i++) buf[i] = (unsigned char)(i * 37 + 11);
  uint64_t base = cache_checksum(buf, N);
  for (int bit = 0; bit < 8 * N; bit++) {
    buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    ck_assert_msg(cache_checksum(buf, N) != base, "bit %d", bit);
    buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
  }
  uint64_t sums[N + 1];
  for (int n = 0; n <= N; n++) {
    sums[n] = cache_checksum(buf, (size_t)n);
    for (int m = 0; m < n; m++) ck_assert_msg(sums[m] != sums[n], "lengths %d and %d", m, n);
  }
}
END_TEST

Suite *cache_suite(void) {
  Suite *s = suite_create("cache");
  TCase *tc = tcase_create("cache");
  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, setup, tmpdir_teardown);
  tcase_add_test(tc, hit_after_miss);
  tcase_add_test(tc, bad_entries_are_replaced);
  tcase_add_test(tc, untrusted_directory);
  tcase_add_test(tc, no_usable_directory);
  tcase_add_test(tc, concurrent_writers);
  tcase_add_test(tc, keys_differ);
  tcase_add_test(tc, checksum_sees_every_bit);
  tcase_add_test(tc, data_items);
  suite_add_tcase(s, tc);
  return s;
}
