/* Tests of the compile cache (cache.c) and its use by the JIT: a hit loads
 * the same code a miss compiles; corrupt, truncated, foreign and untrusted
 * entries are misses, recompiled and replaced; two writers at once leave one
 * whole entry; a cache that cannot be used is noted and skipped. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
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
  suite_add_tcase(s, tc);
  return s;
}
