/* Unit tests for runtime/ckpt.c: bit-exact round trips, the atomic write
 * under failures (read-only directory, file size limit mid-write, rename onto
 * a directory, missing directory), refusal of every truncation and every flipped byte, crafted
 * files with a valid checksum, and the model-mismatch messages. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt.h"
#include "testutil.h"



enum { MAX_FILE = 1024 };   /* the test files are smaller */

/* Reads path into buf (MAX_FILE bytes); returns the length. */
static size_t slurp(const char *path, unsigned char *buf) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  size_t len = fread(buf, 1, MAX_FILE, f);
  ck_assert(feof(f));
  fclose(f);
  return len;
}

/* Writes a fresh file (unlinking first: ext4 flushes a file truncated and
 * rewritten in place on close, which makes loops of rewrites slow). */
static void spit(const char *path, const unsigned char *p, size_t len) {
  unlink(path);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(p, 1, len, f), len);
  fclose(f);
}

/* A small model: a weight matrix with awkward values, a bias, an Adam step
 * counter (scalar state) and a rank-3 state. */
static float w[12], b[3] = {0.5f, -0.0f, 1e-40f}, t[1] = {7}, m[6];

static CkptTensor model_tensors[4] = {
  {"h1.w", CKPT_PARAM, {2, {3, 4}}, w},
  {"h1.b", CKPT_PARAM, {1, {3}}, b},
  {"adam.t", CKPT_STATE, {0, {0}}, t},
  {"bn.mean", CKPT_STATE, {3, {2, 1, 3}}, m},
};

static CkptPosition position(void) {
  CkptPosition pos = {.epoch = 3, .step = 1234567890123ll, .best_val_loss = 0.3125, .bad_epochs = 2,
                      .base_lr = 0.001, .lr_scale = 0.25, .plateau_best = 0.5, .plateau_bad = 1};
  rng_seed(&pos.rng, 99);
  rng_next(&pos.rng);
  return pos;
}

static void fill_values(void) {
  for (int i = 0; i < 12; i++) w[i] = (float)(i - 5) / 3.0f;
  w[11] = NAN;
  for (int i = 0; i < 6; i++) m[i] = 1e30f * (float)i;
}

/* Writes the small model to path, checking success. */
static void write_model(const char *path) {
  fill_values();
  CkptPosition pos = position();
  char err[256] = "";
  ck_assert_msg(ckpt_write(path, "toy", &pos, model_tensors, 4, err, sizeof err), "%s", err);
}

START_TEST(test_ckpt_round_trip) {
  const char *path = in_tmp("a.ckpt");
  write_model(path);
  Checkpoint c;
  char err[256] = "";
  ck_assert_msg(ckpt_read(path, model_tensors, 4, &c, err, sizeof err), "%s", err);
  ck_assert_str_eq(c.model, "toy");
  CkptPosition want = position();
  ck_assert(memcmp(&c.pos.rng, &want.rng, sizeof want.rng) == 0);
  ck_assert_int_eq(c.pos.epoch, 3);
  ck_assert_int_eq(c.pos.step, 1234567890123ll);
  ck_assert(c.pos.best_val_loss == 0.3125);
  ck_assert_int_eq(c.pos.bad_epochs, 2);
  ck_assert(c.pos.base_lr == 0.001 && c.pos.lr_scale == 0.25 && c.pos.plateau_best == 0.5);
  ck_assert_int_eq(c.pos.plateau_bad, 1);
  ck_assert_int_eq(c.version, 2);
  ck_assert_uint_eq(c.layout_hash, ckpt_layout_hash(model_tensors, 4));
  ck_assert_int_eq(c.ntensors, 4);
  for (int i = 0; i < 4; i++) {
    const CkptTensor *x = ckpt_find(&c, model_tensors[i].name);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(x->kind, model_tensors[i].kind);
    ck_assert(memcmp(&x->shape, &model_tensors[i].shape, sizeof x->shape) == 0);
    int64_t n = 1;
    for (int k = 0; k < x->shape.ndim; k++) n *= x->shape.dim[k];
    ck_assert(memcmp(x->data, model_tensors[i].data, sizeof(float) * (size_t)n) == 0);   /* NaN, -0, denormal too */
  }
  ck_assert_ptr_null(ckpt_find(&c, "h2.w"));
  ckpt_free(&c);
  /* without an expected layout anything well-formed is accepted */
  ck_assert(ckpt_read(path, NULL, 0, &c, err, sizeof err));
  ckpt_free(&c);
  ck_assert_str_eq(dir_listing(tmpdir_path()), "a.ckpt\n");
}
END_TEST

START_TEST(test_ckpt_overwrite) {
  const char *path = in_tmp("a.ckpt");
  write_model(path);
  CkptPosition pos = position();
  pos.epoch = 4;
  b[0] = 9;
  char err[256] = "";
  ck_assert(ckpt_write(path, "toy", &pos, model_tensors, 4, err, sizeof err));
  Checkpoint c;
  ck_assert(ckpt_read(path, model_tensors, 4, &c, err, sizeof err));
  ck_assert_int_eq(c.pos.epoch, 4);
  ck_assert(ckpt_find(&c, "h1.b")->data[0] == 9.0f);
  ckpt_free(&c);
  b[0] = 0.5f;
  ck_assert_str_eq(dir_listing(tmpdir_path()), "a.ckpt\n");
}
END_TEST

START_TEST(test_ckpt_layout_hash) {
  CkptTensor swapped[4] = {model_tensors[2], model_tensors[0], model_tensors[3], model_tensors[1]};
  uint64_t h = ckpt_layout_hash(model_tensors, 4);
  ck_assert_uint_eq(ckpt_layout_hash(swapped, 4), h);
  swapped[1].shape.dim[1] = 5;
  ck_assert_uint_ne(ckpt_layout_hash(swapped, 4), h);
  swapped[1] = model_tensors[0];
  swapped[1].name = "h1.W";
  ck_assert_uint_ne(ckpt_layout_hash(swapped, 4), h);
  swapped[1] = model_tensors[0];
  swapped[1].kind = CKPT_STATE;
  ck_assert_uint_ne(ckpt_layout_hash(swapped, 4), h);
  ck_assert_uint_ne(ckpt_layout_hash(model_tensors, 3), h);
}
END_TEST

/* The write fails half-way (file size limit): old file intact, no temp. */
START_TEST(test_ckpt_atomic_write_failure) {
  const char *path = in_tmp("a.ckpt");
  write_model(path);
  size_t len;
  unsigned char before[MAX_FILE];
  len = slurp(path, before);
  float big[1000] = {0};
  CkptTensor bigger[1] = {{"big", CKPT_PARAM, {1, {1000}}, big}};
  /* only the soft limit, put back at once: check itself writes files */
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, lim;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = (struct rlimit){(rlim_t)len + 100, old.rlim_max};
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  CkptPosition pos = position();
  char err[512], want[512];
  bool ok = ckpt_write(path, "toy", &pos, bigger, 1, err, sizeof err);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  ck_assert(!ok);
  snprintf(want, sizeof want, "%s: cannot write: File too large", path);
  ck_assert_str_eq(err, want);
  unsigned char after[MAX_FILE];
  size_t after_len = slurp(path, after);
  ck_assert_uint_eq(after_len, len);
  ck_assert(memcmp(after, before, len) == 0);
  ck_assert_str_eq(dir_listing(tmpdir_path()), "a.ckpt\n");
}
END_TEST

/* The directory is read-only.  The write runs in a child process that, when
 * the tests run as root (whom permissions do not stop), first becomes
 * nobody; the parent then checks the old file and the directory. */
START_TEST(test_ckpt_unwritable_directory) {
  char dir[128];
  snprintf(dir, sizeof dir, "%s/ro", tmpdir_path());
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  const char *path = in_tmp("ro/a.ckpt");
  write_model(path);
  unsigned char before[MAX_FILE], after[MAX_FILE];
  size_t len = slurp(path, before);
  ck_assert_int_eq(chmod(dir, 0555), 0);
  ck_assert_int_eq(chmod(tmpdir_path(), 0755), 0);
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    CkptPosition pos = position();
    char err[512] = "";
    bool ok = ckpt_write(path, "toy", &pos, model_tensors, 4, err, sizeof err);
    ssize_t w = write(fds[1], err, strlen(err));
    _exit(ok || w < 0 ? 1 : 0);
  }
  close(fds[1]);
  char err[512] = "", want[512];
  ssize_t n = read(fds[0], err, sizeof err - 1);
  err[n > 0 ? n : 0] = '\0';
  close(fds[0]);
  int status;
  ck_assert_int_eq(waitpid(child, &status, 0), child);
  chmod(dir, 0755);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  snprintf(want, sizeof want, "%s: cannot write into %s: Permission denied", path, dir);
  ck_assert_str_eq(err, want);
  ck_assert_uint_eq(slurp(path, after), len);
  ck_assert(memcmp(after, before, len) == 0);
  ck_assert_str_eq(dir_listing(dir), "a.ckpt\n");
}
END_TEST

/* A directory is in the way: refused, it stays, no temp. */
START_TEST(test_ckpt_directory_in_the_way) {
  const char *path = in_tmp("d.ckpt");
  ck_assert_int_eq(mkdir(path, 0755), 0);
  spit(in_tmp("d.ckpt/keep"), (const unsigned char *)"x", 1);
  fill_values();
  CkptPosition pos = position();
  char err[512], want[512];
  ck_assert(!ckpt_write(path, "toy", &pos, model_tensors, 4, err, sizeof err));
  snprintf(want, sizeof want, "%s: is a directory (give a file name)", path);
  ck_assert_str_eq(err, want);
  ck_assert_str_eq(dir_listing(tmpdir_path()), "d.ckpt\n");
  ck_assert_str_eq(dir_listing(path), "keep\n");
}
END_TEST

START_TEST(test_ckpt_missing_directory) {
  const char *path = in_tmp("no/such/x.ckpt");
  fill_values();
  CkptPosition pos = position();
  char err[512], want[512];
  ck_assert(!ckpt_write(path, "toy", &pos, model_tensors, 4, err, sizeof err));
  snprintf(want, sizeof want, "%s: cannot write into %s: No such file or directory", path, in_tmp("no/such"));
  ck_assert_str_eq(err, want);
  Checkpoint c;
  ck_assert(!ckpt_read(path, NULL, 0, &c, err, sizeof err));
  snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
  ck_assert_str_eq(err, want);
}
END_TEST

/* Reads bytes p[0..len) as a checkpoint file, expecting failure; the
 * message must start with the path; returns it after "PATH: ". */
static const char *refusal(const unsigned char *p, size_t len) {
  const char *path = in_tmp("bad.ckpt");
  spit(path, p, len);
  Checkpoint c;
  static char err[512];
  ck_assert_msg(!ckpt_read(path, model_tensors, 4, &c, err, sizeof err), "accepted %zu bytes", len);
  ck_assert(c.ntensors == 0 && c.tensors == NULL && c.model == NULL);
  size_t plen = strlen(path);
  ck_assert_msg(strncmp(err, path, plen) == 0 && err[plen] == ':', "%s", err);
  return err + plen + 2;
}

START_TEST(test_ckpt_truncated_everywhere) {
  write_model(in_tmp("a.ckpt"));
  size_t len;
  unsigned char good[MAX_FILE];
  len = slurp(in_tmp("a.ckpt"), good);
  for (size_t n = 0; n < len; n++) refusal(good, n);
  ck_assert_str_eq(refusal(good, 0), "empty file");
  ck_assert_str_eq(refusal(good, 3), "truncated: 3 bytes");
  char want[128];
  snprintf(want, sizeof want, "truncated: 100 bytes, the header says %zu", len);
  ck_assert_str_eq(refusal(good, 100), want);
}
END_TEST

START_TEST(test_ckpt_flipped_bytes) {
  write_model(in_tmp("a.ckpt"));
  size_t len;
  unsigned char good[MAX_FILE], bad[MAX_FILE];
  len = slurp(in_tmp("a.ckpt"), good);
  for (size_t i = 0; i < len; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      memcpy(bad, good, len);
      bad[i] ^= (unsigned char)(1 << bit);
      const char *why = refusal(bad, len);
      if (i >= 16)   /* past magic, version and size: only the CRC can tell */
        ck_assert_msg(strncmp(why, "checksum mismatch (stored ", 26) == 0, "byte %zu: %s", i, why);
    }
  }
  memcpy(bad, good, len);
  bad[0] = 'X';
  ck_assert_str_eq(refusal(bad, len), "not an nnc checkpoint (starts with 58 4e 43 4b, expected \"NNCK\")");
  ck_assert_str_eq(refusal((const unsigned char *)"hi", 2), "not an nnc checkpoint (starts with 68 69, expected \"NNCK\")");
  memcpy(bad, good, len);
  bad[4] = 3;
  ck_assert_str_eq(refusal(bad, len), "unsupported checkpoint version 3 (this nnc reads versions 1 and 2)");
  memcpy(bad, good, len);
  bad[len] = 0;
  char want[128];
  snprintf(want, sizeof want, "%zu bytes, but the header says %zu (trailing data)", len + 1, len);
  ck_assert_str_eq(refusal(bad, len + 1), want);
}
END_TEST

/* Rewrites the CRC so structural damage gets past the checksum. */
static void reseal(unsigned char *p, size_t len) {
  uint32_t crc = (uint32_t)crc32(0L, p, (uInt)(len - 4));
  for (int i = 0; i < 4; i++) p[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

/* Offsets in the small model's file: the tensor count after the 140-byte
 * header (no metric sums), then the model name "toy", then the records
 * (u16 name length, name, kind, rank, dims, u64 offset). */
enum { AT_COUNT = 140, AT_MODEL = 146, AT_T0 = 149, AT_H1B = AT_T0 + 24 + 2 + 4 + 1 + 1 + 4 };

/* Sets the u64 at p to v. */
static void poke64(unsigned char *p, uint64_t v) {
  for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}

START_TEST(test_ckpt_crafted_files) {
  write_model(in_tmp("a.ckpt"));
  size_t len;
  unsigned char good[MAX_FILE], bad[MAX_FILE];
  len = slurp(in_tmp("a.ckpt"), good);
  static const struct {
    int at;               /* byte changed (or first byte of a u64 when wide) */
    uint64_t value;       /* its new value */
    bool wide;            /* a u64 */
    const char *why;      /* the refusal */
  } cases[] = {
    {AT_COUNT, 200, false, "corrupt: 200 tensors cannot fit in the file"},
    {AT_T0 + 2 + 4, 5, false, "corrupt: tensor 'h1.w' has kind 5"},
    {AT_T0 + 2 + 4 + 1 + 1 + 3, 0x40, false, "corrupt: tensor 'h1.w' data runs past the end"},
    {AT_T0 + 2 + 4 + 1, 7, false, "corrupt: tensor 'h1.w' has 7 dimensions (at most 6)"},
    {AT_T0 + 2 + 2, 0, false, "corrupt: the name of tensor 0 has a NUL byte"},
    {AT_T0 + 2 + 3, 'b', false, "corrupt: tensor 'h1.b' appears twice"},
    {AT_MODEL, '\n', false, "corrupt: the model name has a control character"},
    {16, 0x01, false, "corrupt: the layout hash does not match the tensors"},
    {AT_T0 + 2 + 4 + 1 + 1 + 8, 4, true, "corrupt: tensor 'h1.w' data offset 4 is not a multiple of 64"},
    {AT_T0 + 2 + 4 + 1 + 1 + 8, 1 << 20, true,
     "corrupt: tensor 'h1.w' data (offset 1048576, 48 bytes) is not inside the data block"},
    {AT_H1B, 0, true, "corrupt: tensor 'h1.b' data overlaps another tensor's"},
    {AT_COUNT, 3, false, "corrupt: 64 unused bytes after the last tensor"},   /* bn.mean's record and data left over */
  };
  for (size_t i = 0; i < COUNT_OF(cases); i++) {
    memcpy(bad, good, len);
    if (cases[i].wide) poke64(bad + cases[i].at, cases[i].value);
    else bad[cases[i].at] = cases[i].at == 16 ? bad[16] ^ 1 : (unsigned char)cases[i].value;
    reseal(bad, len);
    ck_assert_str_eq(refusal(bad, len), cases[i].why);
  }
  memcpy(bad, good, len);
  memset(bad + AT_T0 + 2 + 4 + 1 + 1 + 4, 0, 4);   /* h1.w [3,4] -> [3,0]: no model has an empty axis */
  reseal(bad, len);
  ck_assert_str_eq(refusal(bad, len), "corrupt: tensor 'h1.w' dimension 1 is 0");
  memcpy(bad, good, len + 64);
  memset(bad + len - 4, 0, 64);   /* 64 more zero bytes before the CRC */
  poke64(bad + 8, len + 64);
  reseal(bad, len + 64);
  ck_assert_str_eq(refusal(bad, len + 64), "corrupt: 64 unused bytes after the last tensor");
  /* random damage with a valid checksum: refused or accepted, never a crash */
  Rng r;
  rng_seed(&r, 5);
  Checkpoint c;
  char err[512];
  for (int trial = 0; trial < 1000; trial++) {
    memcpy(bad, good, len);
    for (int k = 0; k < 2; k++) bad[16 + rng_below(&r, len - 20)] = (unsigned char)rng_next(&r);
    reseal(bad, len);
    spit(in_tmp("bad.ckpt"), bad, len);
    if (ckpt_read(in_tmp("bad.ckpt"), NULL, 0, &c, err, sizeof err)) ckpt_free(&c);
  }
}
END_TEST

/* The header's position fields: each out of range alone, with a valid CRC. */
START_TEST(test_ckpt_position_ranges) {
  write_model(in_tmp("a.ckpt"));
  unsigned char good[MAX_FILE], bad[MAX_FILE];
  size_t len = slurp(in_tmp("a.ckpt"), good);
  static const struct {
    int offset;           /* of the little-endian field */
    uint64_t value;       /* written there */
    const char *why;      /* the refusal */
  } cases[] = {
    {24, (uint64_t)-3, "corrupt: epoch -3 is out of range (0 to 2147483647)"},
    {24, 3000000000u, "corrupt: epoch 3000000000 is out of range (0 to 2147483647)"},
    {32, 2, "corrupt: step 2 is out of range (3 to 4611686018427387904 after 3 epochs)"},
    {32, (uint64_t)INT64_MAX, "corrupt: step 9223372036854775807 is out of range (3 to 4611686018427387904 after 3 epochs)"},
    {48, (uint64_t)-1, "corrupt: -1 epochs without improvement is out of range (0 to 3)"},
    {48, 4, "corrupt: 4 epochs without improvement is out of range (0 to 3)"},
    {40, 0x7ff8000000000000u, "corrupt: the best validation loss is NaN"},
    {88, 0xbff0000000000000u, "corrupt: the base learning rate is -1"},
    {96, 0, "corrupt: the learning-rate scale is 0 (expected 0 < scale <= 1)"},
    {104, 0x7ff8000000000000u, "corrupt: the best loss of reduce_on_plateau is NaN"},
    {112, 4, "corrupt: reduce_on_plateau's 4 epochs without improvement is out of range (0 to 3)"},
    {120, (uint64_t)-1, "corrupt: the epoch under way has batch -1 and 0 steps"},
  };
  for (size_t i = 0; i < COUNT_OF(cases); i++) {
    memcpy(bad, good, len);
    for (int k = 0; k < 8; k++) bad[cases[i].offset + k] = (unsigned char)(cases[i].value >> (8 * k));
    reseal(bad, len);
    ck_assert_str_eq(refusal(bad, len), cases[i].why);
  }
  memcpy(bad, good, len);
  memset(bad + 56, 0, 32);
  reseal(bad, len);
  ck_assert_str_eq(refusal(bad, len), "corrupt: the random generator state is all zero");
}
END_TEST

/* A checkpoint stopped after `steps` steps of `batch` with metric sums
 * sums[0..nsums), resumed by run: the refusal, or NULL. */
static const char *resume_refusal(int batch, int steps, const double *sums, int nsums, CkptRun run) {
  CkptPosition pos = position();
  pos.epoch_batch = batch;
  pos.epoch_steps = steps;
  pos.nsums = nsums;
  memcpy(pos.sums, sums, sizeof(double) * (size_t)nsums);
  const char *path = in_tmp("e.ckpt");
  static char err[512];
  fill_values();
  ck_assert(ckpt_write(path, "toy", &pos, model_tensors, 4, err, sizeof err));
  Checkpoint c;
  ck_assert_msg(ckpt_read(path, NULL, 0, &c, err, sizeof err), "%s", err);
  CkptEpoch at;
  bool ok = ckpt_resume_epoch(&c, &run, path, &at, err, sizeof err);
  ckpt_free(&c);
  if (ok) {
    ck_assert_int_eq(at.steps, steps);
    ck_assert_int_eq(at.nsums, nsums);
    ck_assert(memcmp(at.sums, sums, sizeof(double) * (size_t)nsums) == 0);
    return NULL;
  }
  size_t plen = strlen(path);
  ck_assert_msg(strncmp(err, path, plen) == 0 && err[plen] == ':', "%s", err);
  return err + plen + 2;
}

START_TEST(test_ckpt_resume_epoch) {
  CkptRun run = {.batch = 4, .steps_per_epoch = 10, .ncorrect = 1};
  const double ok[3] = {2.5 + 1e-12, 12, 7};
  ck_assert_ptr_null(resume_refusal(4, 3, ok, 3, run));
  ck_assert_ptr_null(resume_refusal(0, 0, ok, 0, run));
  static const struct {
    int batch, steps;   /* the epoch's position */
    int field;          /* sum changed in ok[] (-1: none) */
    double value;       /* to this */
    const char *why;    /* the refusal */
  } cases[] = {
    {4, 10, -1, 0, "stopped after step 10 of an epoch, but an epoch of this run takes 10 steps (resume with the same data and --limit)"},
    {2, 3, -1, 0, "stopped in the middle of an epoch with batch 2; resume it with --batch 2"},
    {0, 3, -1, 0, "corrupt: the epoch under way has 3 steps of batch 0"},
    {4, 3, 0, INFINITY, "corrupt: metric sum 0 of the epoch under way is inf"},
    {4, 3, 1, 13, "corrupt: metric sum 1 of the epoch under way is 13 (expected steps x batch)"},
    {4, 3, 2, 13, "corrupt: metric sum 2 of the epoch under way is 13 (expected a count of its samples)"},
    {4, 3, 2, 0.5, "corrupt: metric sum 2 of the epoch under way is 0.5 (expected a count of its samples)"},
  };
  for (size_t i = 0; i < COUNT_OF(cases); i++) {
    double v[3];
    memcpy(v, ok, sizeof v);
    if (cases[i].field >= 0) v[cases[i].field] = cases[i].value;
    const char *why = resume_refusal(cases[i].batch, cases[i].steps, v, 3, run);
    ck_assert_msg(why, "case %zu accepted", i);
    ck_assert_str_eq(why, cases[i].why);
  }
  ck_assert_str_eq(resume_refusal(0, 0, ok, 3, run), "corrupt: the epoch under way has batch 0 and 3 metric sums but no steps");
  run.ncorrect = 0;
  ck_assert_str_eq(resume_refusal(4, 3, ok, 3, run),
                   "the epoch under way kept 3 metric sums, this model keeps 2 (is it a checkpoint of this model?)");
}
END_TEST

START_TEST(test_ckpt_model_mismatch) {
  const char *path = in_tmp("a.ckpt");
  write_model(path);
  Checkpoint c;
  char err[512], want[512];
  CkptTensor other[5];
  memcpy(other, model_tensors, sizeof model_tensors);
  other[4] = (CkptTensor){"h2.w", CKPT_PARAM, {2, {4, 2}}, NULL};
  ck_assert(!ckpt_read(path, other, 5, &c, err, sizeof err));
  snprintf(want, sizeof want, "%s: model mismatch: the checkpoint (model 'toy') has no tensor 'h2.w'", path);
  ck_assert_str_eq(err, want);
  other[0].shape.dim[1] = 8;
  ck_assert(!ckpt_read(path, other, 4, &c, err, sizeof err));
  snprintf(want, sizeof want,
           "%s: model mismatch: tensor 'h1.w' has shape [3,4] in the checkpoint, the model expects [3,8]", path);
  ck_assert_str_eq(err, want);
  other[0] = model_tensors[0];
  other[2].kind = CKPT_PARAM;
  ck_assert(!ckpt_read(path, other, 4, &c, err, sizeof err));
  snprintf(want, sizeof want, "%s: model mismatch: tensor 'adam.t' is a state in the checkpoint, a param in the model", path);
  ck_assert_str_eq(err, want);
  ck_assert(!ckpt_read(path, model_tensors, 3, &c, err, sizeof err));
  snprintf(want, sizeof want,
           "%s: model mismatch: the checkpoint (model 'toy') has tensor 'bn.mean', which the model does not", path);
  ck_assert_str_eq(err, want);
  ck_assert(c.tensors == NULL && c.model == NULL);
}
END_TEST

Suite *ckpt_suite(void) {
  Suite *s = suite_create("ckpt");
  TCase *tc = tcase_create("ckpt");
  tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(tc, test_ckpt_round_trip);
  tcase_add_test(tc, test_ckpt_overwrite);
  tcase_add_test(tc, test_ckpt_layout_hash);
  tcase_add_test(tc, test_ckpt_atomic_write_failure);
  tcase_add_test(tc, test_ckpt_unwritable_directory);
  tcase_add_test(tc, test_ckpt_directory_in_the_way);
  tcase_add_test(tc, test_ckpt_missing_directory);
  tcase_add_test(tc, test_ckpt_truncated_everywhere);
  tcase_add_test(tc, test_ckpt_flipped_bytes);
  tcase_add_test(tc, test_ckpt_crafted_files);
  tcase_add_test(tc, test_ckpt_position_ranges);
  tcase_add_test(tc, test_ckpt_resume_epoch);
  tcase_add_test(tc, test_ckpt_model_mismatch);
  suite_add_tcase(s, tc);
  return s;
}
