/* Unit tests for runtime/data.c: a slice of the real Fashion-MNIST, small
 * IDX and CSV files written to a temporary directory (plain and gzipped),
 * every error message word for word, damaged files that must be refused
 * without crashing, standardization, the validation split and batching. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "byterow.h"
#include "data.h"
#include "rng.h"
#include "testutil.h"






/* Writes a fresh file (unlinking first: ext4 flushes a file truncated and
 * rewritten in place on close, which makes loops of rewrites slow). */
static void write_bytes(const char *name, const void *bytes, size_t n, bool gz) {
  const char *path = in_tmp(name);
  unlink(path);
  if (gz) {
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n) ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
    gzclose(f);
  } else {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
  }
}

static void write_text(const char *name, const char *text) {
  write_bytes(name, text, strlen(text), false);
}

/* Three 2x2 unsigned-byte images with labels 0, 2, 1. */
static const unsigned char IMAGES[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                       0, 10, 20, 255, 1, 2, 3, 4, 100, 100, 100, 100};
static const unsigned char LABELS[] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 2, 1};

static DataSpec idx_spec(const char *prefix, double scale) {
  return (DataSpec){.format = DATA_IDX, .path = prefix, .scale = scale};
}

/* ---- IDX ---- */

START_TEST(test_idx_fashion_slice) {
  DataSpec spec = idx_spec("/usr/share/datasets/fashion-mnist/t10k", 1.0 / 255);
  Dataset d;
  char err[256] = "";
  ck_assert_msg(data_load_first(&spec, 784, 10, 10, 100, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 100);
  ck_assert_int_eq(d.nfeat, 784);
  ck_assert_int_eq(d.ntarget, 10);
  ck_assert_str_eq(d.source, "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  ck_assert_int_eq(d.labels[0], 9);   /* the first test image is an ankle boot */
  for (int k = 0; k < 10; k++) ck_assert(d.y[k] == (k == 9 ? 1.0f : 0.0f));
  ck_assert(d.xb != NULL && d.x == NULL);   /* unsigned bytes stay bytes */
  for (int b = 0; b < 256; b++) ck_assert(d.byte_value[b] == (float)(b * (1.0 / 255)));
  data_expand(&d);
  ck_assert(d.xb == NULL && d.x != NULL);
  float lo = 1, hi = 0;
  for (int i = 0; i < 100 * 784; i++) {
    lo = fminf(lo, d.x[i]);
    hi = fmaxf(hi, d.x[i]);
  }
  ck_assert(lo == 0.0f && hi == 1.0f);
  for (int i = 0; i < 100; i++) ck_assert(d.labels[i] >= 0 && d.labels[i] < 10);
  data_free(&d);
}
END_TEST

static void check_small(Dataset *d, float scale) {
  ck_assert_int_eq(d->n, 3);
  ck_assert_int_eq(d->nfeat, 4);
  ck_assert(d->xb[1] == 10 && d->xb[3] == 255 && d->byte_value[255] == 255 * scale);
  data_expand(d);
  ck_assert(d->x[0] == 0 && d->x[1] == 10 * scale && d->x[3] == 255 * scale);
  ck_assert(d->x[11] == 100 * scale);
  ck_assert_int_eq(d->labels[0], 0);
  ck_assert_int_eq(d->labels[1], 2);
  ck_assert_int_eq(d->labels[2], 1);
  static const float onehot[9] = {1, 0, 0, 0, 0, 1, 0, 1, 0};
  ck_assert(memcmp(d->y, onehot, sizeof onehot) == 0);
}

START_TEST(test_idx_plain_and_gz) {
  char err[256] = "";
  Dataset d;
  write_bytes("p-images-idx3-ubyte", IMAGES, sizeof IMAGES, false);
  write_bytes("p-labels-idx1-ubyte", LABELS, sizeof LABELS, false);
  DataSpec spec = idx_spec(in_tmp("p"), 0.5);
  ck_assert_msg(data_load(&spec, 4, 3, 3, &d, err, sizeof err), "%s", err);
  check_small(&d, 0.5f);
  ck_assert_str_eq(d.source, in_tmp("p-images-idx3-ubyte"));
  data_free(&d);
  write_bytes("g-images-idx3-ubyte.gz", IMAGES, sizeof IMAGES, true);
  write_bytes("g-labels-idx1-ubyte.gz", LABELS, sizeof LABELS, true);
  spec = idx_spec(in_tmp("g"), 1);
  ck_assert_msg(data_load(&spec, 4, 3, 3, &d, err, sizeof err), "%s", err);
  check_small(&d, 1);
  ck_assert_str_eq(d.source, in_tmp("g-images-idx3-ubyte.gz"));
  data_free(&d);
  /* the images file's own name, as predict takes it: its labels are the labels-idx1 file */
  spec = idx_spec(in_tmp("g-images-idx3-ubyte.gz"), 1);
  ck_assert_msg(data_load(&spec, 4, 3, 3, &d, err, sizeof err), "%s", err);
  check_small(&d, 1);
  data_free(&d);
  /* the same name without its .gz, when only the .gz exists */
  spec = idx_spec(in_tmp("g-images-idx3-ubyte"), 1);
  ck_assert_msg(data_load(&spec, 4, 3, 3, &d, err, sizeof err), "%s", err);
  check_small(&d, 1);
  ck_assert_str_eq(d.source, in_tmp("g-images-idx3-ubyte.gz"));
  data_free(&d);
  /* a misspelled images file is named as written, not taken for a prefix */
  spec = idx_spec(in_tmp("gx-images-idx3-ubyte.gz"), 1);
  ck_assert(!data_load(&spec, 4, 3, 3, &d, err, sizeof err));
  char missing[512];
  snprintf(missing, sizeof missing, "%s: cannot open: No such file or directory", in_tmp("gx-images-idx3-ubyte.gz"));
  ck_assert_str_eq(err, missing);
  /* the labels file given where the images belong */
  spec = idx_spec(in_tmp("g-labels-idx1-ubyte.gz"), 1);
  ck_assert(!data_load(&spec, 4, 3, 3, &d, err, sizeof err));
  ck_assert_msg(strstr(err, "g-labels-idx1-ubyte.gz: is a labels file; name the images file"), "%s", err);
  /* a gzipped file without the .gz name, through explicit paths */
  write_bytes("imgs", IMAGES, sizeof IMAGES, true);
  spec = (DataSpec){.format = DATA_IDX, .images = in_tmp("imgs"), .labels = in_tmp("p-labels-idx1-ubyte"), .scale = 1};
  ck_assert_msg(data_load_first(&spec, 4, 3, 3, 2, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 2);
  ck_assert_int_eq(d.labels[1], 2);
  data_free(&d);
  spec = idx_spec(in_tmp("imgs"), 1);   /* a file whose name says nothing about its labels */
  ck_assert(!data_load(&spec, 4, 3, 3, &d, err, sizeof err));
  char want[512];
  snprintf(want, sizeof want, "%s: is an images file whose name does not say where its labels are; give them with "
           "idx(images = \"...\", labels = \"...\")", in_tmp("imgs"));
  ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_idx_float_and_real_targets) {
  /* float32 features [2,3]; float32 targets [2,2] as real values */
  unsigned char img[12 + 24] = {0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  unsigned char tgt[12 + 16] = {0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 2};
  const float fv[6] = {1.5f, -2, 0, 1e-3f, 7, -0.25f}, tv[4] = {0.5f, -1, 3, 2};
  for (int i = 0; i < 6 + 4; i++) {
    float v = i < 6 ? fv[i] : tv[i - 6];
    uint32_t u;
    memcpy(&u, &v, 4);
    unsigned char *p = i < 6 ? img + 12 + 4 * i : tgt + 12 + 4 * (i - 6);
    p[0] = (unsigned char)(u >> 24), p[1] = (unsigned char)(u >> 16);
    p[2] = (unsigned char)(u >> 8), p[3] = (unsigned char)u;
  }
  write_bytes("f-images-idx3-ubyte", img, sizeof img, false);
  write_bytes("f-labels-idx1-ubyte.gz", tgt, sizeof tgt, true);
  DataSpec spec = idx_spec(in_tmp("f"), 2);
  Dataset d;
  char err[256] = "";
  ck_assert_msg(data_load(&spec, 3, 0, 2, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 2);
  ck_assert_ptr_null(d.labels);
  for (int i = 0; i < 6; i++) ck_assert(d.x[i] == 2 * fv[i]);
  for (int i = 0; i < 4; i++) ck_assert(d.y[i] == tv[i]);   /* targets are not scaled */
  data_free(&d);
}
END_TEST

/* One IDX failure: file contents, how to load, the exact message ("%s" is
 * the temporary directory). */
typedef struct {
  const char *what;               /* test label */
  unsigned char img[40];          /* images file bytes */
  int nimg;                       /* its length; -1 = no file */
  unsigned char lab[16];          /* labels file bytes */
  int nlab;                       /* its length; -1 = no file */
  int nfeat;                      /* model's feature count */
  const char *msg;                /* expected error */
} IdxCase;

#define HDR3 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2   /* two 2x2 images */
#define HDR1 0, 0, 8, 1, 0, 0, 0, 2                           /* two labels */

static const IdxCase idx_cases[] = {
  {"missing", {0}, -1, {0}, -1, 4,
   "%s/c-images-idx3-ubyte: cannot open: No such file or directory (nor %s/c-images-idx3-ubyte.gz)"},
  {"missing labels", {HDR3, 1, 2, 3, 4, 5, 6, 7, 8}, 24, {0}, -1, 4,
   "%s/c-labels-idx1-ubyte: cannot open: No such file or directory (nor %s/c-labels-idx1-ubyte.gz)"},
  {"empty", {0}, 0, {HDR1, 1, 2}, 10, 4, "%s/c-images-idx3-ubyte: empty file"},
  {"short header", {0, 0}, 2, {HDR1, 1, 2}, 10, 4,
   "%s/c-images-idx3-ubyte: truncated IDX header (the file has 2 bytes)"},
  {"magic", {'P', 'K', 3, 4, 0}, 5, {HDR1, 1, 2}, 10, 4,
   "%s/c-images-idx3-ubyte: not an IDX file (starts with 50 4b 03 04; IDX starts with 00 00, "
   "a type byte and a rank byte)"},
  {"type", {0, 0, 0x0A, 3, 0}, 5, {HDR1, 1, 2}, 10, 4,
   "%s/c-images-idx3-ubyte: unsupported IDX element type 0x0a (supported: 0x08 unsigned byte, "
   "0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)"},
  {"rank 0", {0, 0, 8, 0}, 4, {HDR1, 1, 2}, 10, 4,
   "%s/c-images-idx3-ubyte: IDX rank 0 is not supported (1 to 8 dimensions)"},
  {"short dims", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0}, 10, {HDR1, 1, 2}, 10, 4,
   "%s/c-images-idx3-ubyte: truncated IDX header (the file has 10 bytes, the header needs 16)"},
  {"features", {HDR3, 1, 2, 3, 4, 5, 6, 7, 8}, 24, {HDR1, 1, 2}, 10, 784,
   "%s/c-images-idx3-ubyte: shape [2,2,2] gives [2,2] = 4 features per sample, but the model's "
   "input has 784"},
  {"no samples", {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2}, 16, {HDR1, 1, 2}, 10, 4,
   "%s/c-images-idx3-ubyte: no samples (dimension 0 is 0)"},
  {"count", {HDR3, 1, 2, 3, 4, 5, 6, 7, 8}, 24, {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3}, 11, 4,
   "%s/c-labels-idx1-ubyte: 3 labels, but %s/c-images-idx3-ubyte has 2 images"},
  {"label shape", {HDR3, 1, 2, 3, 4, 5, 6, 7, 8}, 24,
   {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4}, 16, 4,
   "%s/c-labels-idx1-ubyte: shape [2,2] gives 2 values per sample, but the model's target takes "
   "1 (a class label)"},
  {"label range", {HDR3, 1, 2, 3, 4, 5, 6, 7, 8}, 24, {HDR1, 1, 12}, 10, 4,
   "%s/c-labels-idx1-ubyte: label 12 out of range 0..9 at item 1"},
  {"truncated data", {HDR3, 1, 2, 3, 4, 5, 6}, 22, {HDR1, 1, 2}, 10, 4,
   "%s/c-images-idx3-ubyte: truncated: item 1 is incomplete (the data ends at byte 22 of 24)"},
  {"truncated labels", {HDR3, 1, 2, 3, 4, 5, 6, 7, 8}, 24, {HDR1, 1}, 9, 4,
   "%s/c-labels-idx1-ubyte: truncated: item 1 is incomplete (the data ends at byte 9 of 10)"},
  {"not finite", {0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0x3F, 0x80, 0, 0, 0x7F, 0x80, 0, 0}, 20,
   {HDR1, 1, 2}, 10, 1, "%s/c-images-idx3-ubyte: item 1, element 0 is inf (values must be finite)"},
};

START_TEST(test_idx_errors) {
  const IdxCase *c = &idx_cases[_i];
  for (int gz = 0; gz < 2; gz++) {
    /* gzipped under the plain name: the reader must not care */
    if (c->nimg >= 0) write_bytes("c-images-idx3-ubyte", c->img, (size_t)c->nimg, gz);
    if (c->nlab >= 0) write_bytes("c-labels-idx1-ubyte", c->lab, (size_t)c->nlab, gz);
    DataSpec spec = idx_spec(in_tmp("c"), 1);
    Dataset d;
    char err[512], want[512];
    ck_assert_msg(!data_load(&spec, c->nfeat, 10, 10, &d, err, sizeof err), "%s loaded", c->what);
    snprintf(want, sizeof want, c->msg, tmpdir_path(), tmpdir_path());
    ck_assert_str_eq(err, want);
    ck_assert(d.n == 0 && d.x == NULL && d.y == NULL && d.labels == NULL && d.source == NULL);
  }
}
END_TEST

START_TEST(test_idx_directory_and_bad_gzip) {
  mkdir(in_tmp("dir"), 0755);
  DataSpec spec = {.format = DATA_IDX, .images = in_tmp("dir"), .labels = in_tmp("dir"), .scale = 1};
  Dataset d;
  char err[512], want[512];
  ck_assert(!data_load(&spec, 4, 10, 10, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s/dir: read error: Is a directory", tmpdir_path());
  ck_assert_str_eq(err, want);
  /* gzip magic followed by garbage */
  static const unsigned char bad[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef,
                                      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  write_bytes("bad", bad, sizeof bad, false);
  spec.images = in_tmp("bad");
  ck_assert(!data_load(&spec, 4, 10, 10, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s/bad: ", tmpdir_path());
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

/* Damaged versions of a valid pair: every prefix and many random byte
 * changes, gzipped and plain.  Each load must either succeed or fail with a
 * message naming one of the two files. */
START_TEST(test_idx_fuzz) {
  Rng r;
  rng_seed(&r, 77);
  unsigned char img[sizeof IMAGES];
  char err[512];
  for (int trial = 0; trial < 240; trial++) {
    bool gz = trial % 2;
    memcpy(img, IMAGES, sizeof img);
    size_t n = sizeof img;
    if (trial < 2 * (int)sizeof img) n = (size_t)trial / 2;
    else
      for (int k = 0; k < 3; k++) img[rng_below(&r, sizeof img)] = (unsigned char)rng_next(&r);
    write_bytes("z-images-idx3-ubyte", img, n, gz);
    write_bytes("z-labels-idx1-ubyte", LABELS, sizeof LABELS - (size_t)(trial % 3 == 0), gz);
    DataSpec spec = idx_spec(in_tmp("z"), 1);
    Dataset d;
    if (data_load(&spec, 4, 3, 3, &d, err, sizeof err)) {
      ck_assert_int_ge(d.n, 1);
      data_free(&d);
    } else {
      ck_assert_msg(strncmp(err, in_tmp("z-"), strlen(in_tmp("z-"))) == 0, "%s", err);
    }
  }
}
END_TEST

/* Byte features split, standardize and gather exactly as their floats do. */
START_TEST(test_idx_bytes_as_floats) {
  char err[256] = "";
  DataSpec spec = {.format = DATA_IDX, .path = "/usr/share/datasets/fashion-mnist/t10k", .scale = 1.0 / 255};
  Dataset b, f, bval, fval;
  ck_assert_msg(data_load_first(&spec, 784, 10, 10, 301, &b, err, sizeof err), "%s", err);
  ck_assert_msg(data_load_first(&spec, 784, 10, 10, 301, &f, err, sizeof err), "%s", err);
  data_expand(&f);
  ck_assert(data_split(&b, 0.3, 7, &bval, err, sizeof err) && data_split(&f, 0.3, 7, &fval, err, sizeof err));
  ck_assert(b.xb && bval.xb && b.n == f.n && bval.n == fval.n);
  const int idx[5] = {0, b.n - 1, 17, 17, 60};
  float xb[5 * 784], xf[5 * 784], yb[5 * 10], yf[5 * 10];
  data_gather(&b, idx, 5, xb, yb);
  data_gather(&f, idx, 5, xf, yf);
  ck_assert(memcmp(xb, xf, sizeof xb) == 0 && memcmp(yb, yf, sizeof yb) == 0);
  data_gather(&bval, idx + 2, 3, xb, yb);
  data_gather(&fval, idx + 2, 3, xf, yf);
  ck_assert(memcmp(xb, xf, 3 * 784 * sizeof(float)) == 0);
  DataNorm nb, nf;
  data_norm_fit(&b, &nb);
  data_norm_fit(&f, &nf);
  ck_assert(memcmp(nb.mean, nf.mean, 784 * sizeof(float)) == 0 && memcmp(nb.std, nf.std, 784 * sizeof(float)) == 0);
  data_norm_apply(&nb, &b);   /* standardized features are floats */
  data_norm_apply(&nf, &f);
  ck_assert(b.xb == NULL && memcmp(b.x, f.x, sizeof(float) * 784 * (size_t)b.n) == 0);
  data_norm_free(&nb);
  data_norm_free(&nf);
  data_free(&b), data_free(&f), data_free(&bval), data_free(&fval);
  /* a scale that takes a byte present in the file beyond float range */
  write_bytes("o-images-idx3-ubyte", IMAGES, sizeof IMAGES, false);
  write_bytes("o-labels-idx1-ubyte", LABELS, sizeof LABELS, false);
  spec = idx_spec(in_tmp("o"), 1e37);
  ck_assert(!data_load(&spec, 4, 3, 3, &b, err, sizeof err));
  char want[512];
  snprintf(want, sizeof want, "%s: item 0, element 3 is 2.55e+39 after scaling, beyond float range (magnitude at most %g)",
           in_tmp("o-images-idx3-ubyte"), FLT_MAX);
  ck_assert_str_eq(err, want);
  ck_assert(b.xb == NULL && b.n == 0);
}
END_TEST

/* Each converter the host runs gives the table's floats bit for bit, at
 * every length (vector tails) and alignment; a scale that no one divisor
 * reproduces keeps the table. */
START_TEST(test_byte_rows) {
  ByteRowConverter conv[8];
  int nconv = byterow_converters(conv, 8);
  ck_assert(nconv >= 1 && strcmp(conv[nconv - 1].name, "scalar") == 0);
  static uint8_t src[1024 + 8];
  for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 37 + 11);   /* every byte in each 256 */
  const double scales[] = {1.0 / 255, 1, 1.0 / 256, 0.1, 0.3, 7};
  for (size_t s = 0; s < COUNT_OF(scales); s++) {
    float value[256];
    for (int b = 0; b < 256; b++) value[b] = (float)(b * scales[s]);
    float q = byterow_divisor(scales[s], value);
    ck_assert_msg((q > 0) == (scales[s] != 0.3 && scales[s] != 7), "scale %g: divisor %g", scales[s], q);
    static float out[1024], want[1024], untouched[1024];
    memset(untouched, 0xff, sizeof untouched);
    for (size_t n = 0; n <= 1024; n = n < 48 ? n + 1 : n < 784 ? 784 : n + 240)   /* 0..48, 784, 1024 */
      for (size_t off = 0; off < 4; off += 3) {
        for (size_t k = 0; k < n; k++) want[k] = value[src[off + k]];
        byterow_convert(src + off, n, value, q, out);
        ck_assert_msg(memcmp(out, want, n * sizeof(float)) == 0, "scale %g, %zu bytes", scales[s], n);
        for (int c = 0; c < nconv && q > 0; c++) {
          memset(out, 0xff, sizeof out);
          conv[c].fn(src + off, n, q, out);
          ck_assert_msg(memcmp(out, want, n * sizeof(float)) == 0, "%s, scale %g, %zu bytes at offset %zu",
                        conv[c].name, scales[s], n, off);
          ck_assert_msg(memcmp(out + n, untouched, (1024 - n) * sizeof(float)) == 0, "%s wrote past %zu floats",
                        conv[c].name, n);
        }
      }
  }
}
END_TEST

/* ---- CSV ---- */

START_TEST(test_csv_classes_header) {
  write_text("a.csv", "f1,f2,label\n1, 2 ,0\r\n\n3,4e0,2\n  \n-5,6.5,1");
  DataSpec spec = {.format = DATA_CSV, .path = in_tmp("a.csv"), .scale = 2, .header = true};
  Dataset d;
  char err[256] = "";
  ck_assert_msg(data_load(&spec, 2, 3, 3, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 3);
  static const float x[6] = {2, 4, 6, 8, -10, 13};
  static const float y[9] = {1, 0, 0, 0, 0, 1, 0, 1, 0};
  ck_assert(memcmp(d.x, x, sizeof x) == 0);
  ck_assert(memcmp(d.y, y, sizeof y) == 0);
  ck_assert_int_eq(d.labels[2], 1);
  data_free(&d);
  ck_assert_msg(data_load_first(&spec, 2, 3, 3, 2, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 2);
  data_free(&d);
}
END_TEST

/* A first row without numbers is column names even without header = true;
 * a UTF-8 byte order mark is skipped; header = true over numbers skips them
 * (a warning says so). */
START_TEST(test_csv_header_detect_and_bom) {
  write_text("h.csv", "\xEF\xBB\xBF" "f1,f2,label\n1,2,0\n3,4,2\n");
  DataSpec spec = {.format = DATA_CSV, .path = in_tmp("h.csv"), .scale = 1};
  Dataset d;
  char err[256] = "";
  ck_assert_msg(data_load(&spec, 2, 3, 3, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 2);
  ck_assert(d.x[0] == 1 && d.labels[1] == 2);
  data_free(&d);
  write_text("b.csv", "\xEF\xBB\xBF" "1,2,0\n3,4,2\n");
  spec.path = in_tmp("b.csv");
  ck_assert_msg(data_load(&spec, 2, 3, 3, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 2);
  ck_assert(d.x[0] == 1);
  data_free(&d);
  spec.header = true;
  ck_assert_msg(data_load(&spec, 2, 3, 3, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 1);
  ck_assert(d.x[0] == 3);
  data_free(&d);
}
END_TEST

/* A NUL byte (a binary file, /dev/zero) is named where it is. */
START_TEST(test_csv_nul_byte) {
  write_bytes("n.csv", "1,2,0\n3,4\0,1\n", 11, false);
  DataSpec spec = {.format = DATA_CSV, .path = in_tmp("n.csv"), .scale = 1};
  Dataset d;
  char err[256], want[256];
  ck_assert(!data_load(&spec, 2, 3, 3, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s:2:4: a NUL byte; a CSV file is text (is this a binary file?)", in_tmp("n.csv"));
  ck_assert_str_eq(err, want);
  spec.path = "/dev/zero";
  ck_assert(!data_load(&spec, 2, 3, 3, &d, err, sizeof err));
  ck_assert_str_eq(err, "/dev/zero:1:1: a NUL byte; a CSV file is text (is this a binary file?)");
}
END_TEST

START_TEST(test_csv_real_targets_first) {
  write_text("r.csv", "0.5,-1,10,20,30\n1.5,2,40,50,60\n");
  DataSpec spec = {.format = DATA_CSV, .path = in_tmp("r.csv"), .scale = 1, .target_first = true};
  Dataset d;
  char err[256] = "";
  ck_assert_msg(data_load(&spec, 3, 0, 2, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 2);
  ck_assert_ptr_null(d.labels);
  static const float x[6] = {10, 20, 30, 40, 50, 60}, y[4] = {0.5f, -1, 1.5f, 2};
  ck_assert(memcmp(d.x, x, sizeof x) == 0);
  ck_assert(memcmp(d.y, y, sizeof y) == 0);
  data_free(&d);
}
END_TEST

/* ---- features only (prediction data) ---- */

/* An images file alone, by prefix or by its own path; no labels file exists. */
START_TEST(test_idx_features_only) {
  char err[256] = "";
  Dataset d;
  write_bytes("u-images-idx3-ubyte.gz", IMAGES, sizeof IMAGES, true);
  DataSpec spec = idx_spec(in_tmp("u"), 1);
  ck_assert_msg(data_load_features(&spec, 4, 1, &d, err, sizeof err), "%s", err);
  ck_assert(d.n == 3 && d.nfeat == 4 && d.ntarget == 0 && d.y == NULL && d.labels == NULL);
  ck_assert(d.x[1] == 10 && d.x[11] == 100);
  data_free(&d);
  spec = (DataSpec){.format = DATA_IDX, .images = in_tmp("u-images-idx3-ubyte.gz"), .scale = 0.5};
  ck_assert_msg(data_load_features(&spec, 4, 1, &d, err, sizeof err), "%s", err);
  ck_assert(d.n == 3 && d.x[3] == 127.5f);
  /* gathering with a target buffer leaves it alone */
  float x[4], y[1] = {7};
  data_gather(&d, (const int[]){2}, 1, x, y);
  ck_assert(x[0] == 50 && y[0] == 7);
  data_free(&d);
  /* with targets the labels file is still required */
  DataSpec prefix = idx_spec(in_tmp("u"), 1);
  ck_assert(!data_load(&prefix, 4, 3, 3, &d, err, sizeof err));
  char want[512];
  snprintf(want, sizeof want, "%s: cannot open: No such file or directory (nor %s.gz)",
           in_tmp("u-labels-idx1-ubyte"), in_tmp("u-labels-idx1-ubyte"));
  ck_assert_str_eq(err, want);
  ck_assert(!data_load_features(&spec, 5, 1, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s: shape [3,2,2] gives [2,2] = 4 features per sample, but the model's input has 5",
           in_tmp("u-images-idx3-ubyte.gz"));
  ck_assert_str_eq(err, want);
}
END_TEST

/* Unlabelled and labelled CSV rows, with and without a header row (told by
 * the row itself, not by spec.header), gzipped or not. */
START_TEST(test_csv_features_only) {
  static const struct {
    const char *text;    /* file contents */
    bool first;          /* target columns first */
    bool gz;             /* written gzipped */
  } files[] = {
      {"1,2\n3,4\n-5,6.5\n", false, false},
      {"a, b\n1,2\n3,4\n-5,6.5\n", false, true},
      {"\n1,2,0\n3,4,1\n-5,6.5,1\n", false, false},
      {"y,a,b\r\n9,1,2\r\n9,3,4\r\n9,-5,6.5\r\n", true, false},
  };
  static const float x[6] = {1, 2, 3, 4, -5, 6.5f};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    write_bytes("f.csv", files[i].text, strlen(files[i].text), files[i].gz);
    /* header = true must not eat the first row of a file without one */
    DataSpec spec = {.format = DATA_CSV, .path = in_tmp("f.csv"), .scale = 1, .header = true,
                     .target_first = files[i].first};
    Dataset d;
    char err[256] = "";
    ck_assert_msg(data_load_features(&spec, 2, 1, &d, err, sizeof err), "file %zu: %s", i, err);
    ck_assert_msg(d.n == 3 && d.ntarget == 0 && d.y == NULL && d.labels == NULL, "file %zu", i);
    ck_assert_msg(memcmp(d.x, x, sizeof x) == 0, "file %zu", i);
    data_free(&d);
  }
}
END_TEST

static const struct {
  const char *text;   /* file contents */
  const char *msg;    /* expected error, "%s" = the file */
} feature_cases[] = {
    {"1,2,3,4\n", "%s:1: 4 columns, expected 2 (the features) or 3 (2 features + 1 target)"},
    {"a,b\n\n1\n", "%s:3: 1 column, expected 2 (the features) or 3 (2 features + 1 target)"},
    {"1,2\n1,2,0\n", "%s:2: 3 columns, expected 2 like the first data row"},
    {"1,x\n", "%s:1:3: not a number: 'x'"},
    {"a,b\n", "%s: no data rows"},
};

START_TEST(test_csv_features_errors) {
  write_text("e.csv", feature_cases[_i].text);
  DataSpec spec = {.format = DATA_CSV, .path = in_tmp("e.csv"), .scale = 1};
  Dataset d;
  char err[512], want[512];
  ck_assert(!data_load_features(&spec, 2, 1, &d, err, sizeof err));
  snprintf(want, sizeof want, feature_cases[_i].msg, in_tmp("e.csv"));
  ck_assert_str_eq(err, want);
  ck_assert(d.n == 0 && d.x == NULL && d.source == NULL);
}
END_TEST

typedef struct {
  const char *text;     /* file contents (NULL: no file) */
  bool header;          /* skip the first row */
  int nclasses;         /* 0: one real target */
  const char *msg;      /* expected error, "%s" = the file */
} CsvCase;

static const CsvCase csv_cases[] = {
  {NULL, false, 3, "%s: cannot open: No such file or directory"},
  {"", false, 3, "%s: empty file"},
  {"a,b,c\n\n", true, 3, "%s: no data rows"},
  {"1,2,0\n3,4\n", false, 3, "%s:2: 2 columns, expected 3 (2 features + 1 label)"},
  {"1,2,0\n\n3,4,5,6\n", false, 0, "%s:3: 4 columns, expected 3 (2 features + 1 target)"},
  {"1,2,0\n1,abc,1\n", false, 3, "%s:2:3: not a number: 'abc'"},
  {"1,2,0\n1, 2x ,1\n", false, 3, "%s:2:4: not a number: '2x'"},
  {"1,,0\n", false, 3, "%s:1:3: empty field"},
  {"1,nan,0\n", false, 3, "%s:1:3: 'nan' is not a finite number (fill in missing values before training)"},
  {"1,2,0\n1,1e40,1\n", false, 3, "%s:2:3: 1e40 is beyond float range (magnitude at most 3.40282e+38)"},
  {"1,2,1e39\n", false, 0, "%s:1:5: 1e39 is beyond float range (magnitude at most 3.40282e+38)"},
  {"x1,2,y\n1,2,0\n", false, 3, "%s:1:1: not a number: 'x1'; if this row holds column names, add header = true to csv(...)"},
  {"1,2,0,1,0\n", false, 3,
   "%s:1: 5 columns, expected 3 (2 features + 1 label); for one-hot labels in 3 columns, declare the target as [3] "
   "instead of class(3)"},
  {"h\n1,2,0\n1,2,3\n", true, 3, "%s:3:5: label 3 out of range 0..2"},
  {"1,2,-1\n", false, 3, "%s:1:5: label -1 out of range 0..2"},
  {"1,2,0.5\n", false, 3, "%s:1:5: label 0.5 is not an integer"},
  {"1,2, 7\n", false, 3, "%s:1:6: label 7 out of range 0..2"},
};

START_TEST(test_csv_errors) {
  const CsvCase *c = &csv_cases[_i];
  if (c->text) write_text("e.csv", c->text);
  DataSpec spec = {.format = DATA_CSV, .path = in_tmp("e.csv"), .scale = 1, .header = c->header};
  Dataset d;
  char err[512], want[512];
  ck_assert(!data_load(&spec, 2, c->nclasses, 1, &d, err, sizeof err));
  snprintf(want, sizeof want, c->msg, in_tmp("e.csv"));
  ck_assert_str_eq(err, want);
  ck_assert(d.n == 0 && d.x == NULL && d.source == NULL);
}
END_TEST

/* ---- standardization, split, batches ---- */

/* n samples: x = (i, 3, 2*i), label i % 2 (so samples can be told apart). */
static Dataset ramp(int n) {
  Dataset d = {.source = strdup("ramp"), .n = n, .nfeat = 3, .ntarget = 2, .nclasses = 2};
  d.x = malloc(sizeof(float) * 3 * (size_t)n);
  d.y = malloc(sizeof(float) * 2 * (size_t)n);
  d.labels = malloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) {
    d.x[3 * i] = (float)i, d.x[3 * i + 1] = 3, d.x[3 * i + 2] = 2.0f * (float)i;
    d.labels[i] = i % 2;
    d.y[2 * i] = (float)(i % 2 == 0), d.y[2 * i + 1] = (float)(i % 2);
  }
  return d;
}

START_TEST(test_standardize) {
  Dataset train = ramp(5), test = ramp(3);
  DataNorm norm;
  data_norm_fit(&train, &norm);
  ck_assert(norm.mean[0] == 2.0f && norm.mean[1] == 3.0f && norm.mean[2] == 4.0f);
  ck_assert_float_eq_tol(norm.std[0], sqrtf(2.0f), 1e-6f);
  ck_assert(norm.std[1] == 0.0f);
  ck_assert_float_eq_tol(norm.std[2], 2 * sqrtf(2.0f), 1e-6f);
  data_norm_apply(&norm, &train);
  for (int k = 0; k < 3; k++) {
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 5; i++) s1 += train.x[3 * i + k], s2 += train.x[3 * i + k] * train.x[3 * i + k];
    ck_assert_double_eq_tol(s1 / 5, 0.0, 1e-6);
    ck_assert_double_eq_tol(s2 / 5, k == 1 ? 0.0 : 1.0, 1e-6);   /* constant: centered only */
  }
  data_norm_apply(&norm, &test);   /* the training set's numbers, not the test set's */
  ck_assert_float_eq_tol(test.x[0], -2 / sqrtf(2.0f), 1e-6f);
  ck_assert(test.x[1] == 0.0f);
  data_norm_free(&norm);
  data_free(&train);
  data_free(&test);
}
END_TEST

START_TEST(test_split) {
  Dataset d = ramp(10), val, d2 = ramp(10), val2, d3 = ramp(10), val3;
  char err[256] = "";
  ck_assert_msg(data_split(&d, 0.3, 42, &val, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 7);
  ck_assert_int_eq(val.n, 3);
  ck_assert_str_eq(val.source, "ramp");
  int seen[10] = {0};
  for (int part = 0; part < 2; part++) {
    const Dataset *p = part ? &val : &d;
    for (int i = 0; i < p->n; i++) {
      int id = (int)p->x[3 * i];
      seen[id]++;
      ck_assert(p->x[3 * i + 2] == 2.0f * (float)id);   /* rows stay whole */
      ck_assert_int_eq(p->labels[i], id % 2);
      ck_assert(p->y[2 * i + 1] == (float)(id % 2));
      if (i > 0) ck_assert(p->x[3 * i] > p->x[3 * (i - 1)]);   /* original order kept */
    }
  }
  for (int i = 0; i < 10; i++) ck_assert_int_eq(seen[i], 1);
  ck_assert(data_split(&d2, 0.3, 42, &val2, err, sizeof err));
  ck_assert(memcmp(val.x, val2.x, sizeof(float) * 9) == 0);   /* same seed, same split */
  ck_assert(data_split(&d3, 0.3, 7, &val3, err, sizeof err));
  ck_assert(memcmp(val.x, val3.x, sizeof(float) * 9) != 0);
  data_free(&d);
  data_free(&val);
  data_free(&d2);
  data_free(&val2);
  data_free(&d3);
  data_free(&val3);
}
END_TEST

START_TEST(test_split_errors) {
  Dataset d = ramp(10), val;
  char err[256];
  ck_assert(!data_split(&d, 0.01, 1, &val, err, sizeof err));
  ck_assert_str_eq(err, "ramp: validation_split 0.01 of 10 samples leaves no validation samples");
  ck_assert(!data_split(&d, 0.99, 1, &val, err, sizeof err));
  ck_assert_str_eq(err, "ramp: validation_split 0.99 of 10 samples leaves no training samples");
  ck_assert_int_eq(d.n, 10);
  data_free(&d);
}
END_TEST

START_TEST(test_gather) {
  Dataset d = ramp(4);
  const int idx[3] = {2, 0, 3};
  float x[9], y[6];
  data_gather(&d, idx, 3, x, y);
  static const float wx[9] = {2, 3, 4, 0, 3, 0, 3, 3, 6}, wy[6] = {1, 0, 1, 0, 0, 1};
  ck_assert(memcmp(x, wx, sizeof x) == 0);
  ck_assert(memcmp(y, wy, sizeof y) == 0);
  data_gather(&d, idx + 1, 1, x, NULL);
  ck_assert(x[0] == 0 && x[2] == 0);
  data_free(&d);
}
END_TEST

/* ---- sources naming what feeds each input and target ---- */

/* Two inputs (a 2x2 image, 2 numbers) and two targets (a class of 3, a real). */
static const DataColumn COLS[] = {
    {.name = "img", .offset = 0, .width = 4},
    {.name = "m", .offset = 4, .width = 2},
    {.name = "lab", .target = true, .offset = 0, .width = 3, .nclasses = 3},
    {.name = "r", .target = true, .offset = 3, .width = 1},
};
static const unsigned char META[] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6};
static const unsigned char REAL[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};

static DataBind bind_file(const char *name, const char *file) {
  return (DataBind){.name = name, .file = in_tmp(file), .first = -1, .last = -1};
}

START_TEST(test_columns_idx) {
  write_bytes("img.idx", IMAGES, sizeof IMAGES, false);
  write_bytes("m.idx.gz", META, sizeof META, true);
  write_bytes("lab.idx", LABELS, sizeof LABELS, false);
  write_bytes("r.idx", REAL, sizeof REAL, false);
  DataBind b[4];
  b[0] = bind_file("r", "r.idx");   /* in any order */
  b[1] = bind_file("img", "img.idx");
  b[2] = bind_file("lab", "lab.idx");
  b[3] = bind_file("m", "m.idx.gz");
  for (int i = 0; i < 4; i++) b[i].file = xstrdup(b[i].file);
  DataSpec spec = {.format = DATA_IDX, .path = "", .scale = 0.5, .binds = b, .nbinds = 4};
  Dataset d;
  char err[256] = "";
  ck_assert_msg(data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 3);
  ck_assert_int_eq(d.nfeat, 6);
  ck_assert_int_eq(d.ntarget, 4);
  ck_assert(d.xb != NULL);   /* every input is bytes: x stays bytes */
  ck_assert_int_eq(d.nclasses, 0);   /* two targets: the labels are in y alone */
  const int idx[2] = {2, 0};
  float img[8], m[4], lab[6], r[2];
  data_gather_column(&d, data_column(&d, "img"), idx, 2, img);
  data_gather_column(&d, data_column(&d, "m"), idx, 2, m);
  data_gather_column(&d, data_column(&d, "lab"), idx, 2, lab);
  data_gather_column(&d, data_column(&d, "r"), idx, 2, r);
  static const float wimg[8] = {50, 50, 50, 50, 0, 5, 10, 127.5f}, wm[4] = {2.5f, 3, 0.5f, 1},
                     wlab[6] = {0, 1, 0, 1, 0, 0}, wr[2] = {9, 7};   /* targets are not scaled */
  ck_assert(memcmp(img, wimg, sizeof img) == 0);
  ck_assert(memcmp(m, wm, sizeof m) == 0);
  ck_assert(memcmp(lab, wlab, sizeof lab) == 0);
  ck_assert(memcmp(r, wr, sizeof r) == 0);
  ck_assert_ptr_null(data_column(&d, "nothing"));
  Dataset val;
  ck_assert_msg(data_split(&d, 0.34, 3, &val, err, sizeof err), "%s", err);
  ck_assert_int_eq(val.ncols, 4);
  ck_assert_ptr_nonnull(data_column(&val, "m"));
  data_free(&val);
  data_free(&d);
  /* the inputs alone, with one class target left: labels as data_load keeps them */
  ck_assert_msg(data_load_columns(&spec, COLS, 3, false, INT_MAX, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.nclasses, 3);
  ck_assert(d.labels[0] == 0 && d.labels[1] == 2 && d.labels[2] == 1);
  data_free(&d);
  ck_assert_msg(data_load_columns(&spec, COLS, 4, true, 2, &d, err, sizeof err), "%s", err);
  ck_assert(d.n == 2 && d.ntarget == 0 && d.ncols == 2 && d.y == NULL);
  data_free(&d);
  for (int i = 0; i < 4; i++) free((char *)b[i].file);
}
END_TEST

START_TEST(test_columns_idx_floats_and_errors) {
  static const unsigned char FMETA[] = {0, 0, 0x0D, 2, 0, 0, 0, 3, 0, 0, 0, 2,
                                        0x3f, 0x80, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  write_bytes("img.idx", IMAGES, sizeof IMAGES, false);
  write_bytes("m.idx", FMETA, sizeof FMETA, false);
  write_bytes("m2.idx", LABELS, sizeof LABELS, false);   /* [3]: one value per item, m takes 2 */
  write_bytes("short.idx", REAL, sizeof REAL - 1, false);
  write_bytes("lab.idx", LABELS, sizeof LABELS, false);
  char f_img[512], f_m[512], f_m2[512], f_lab[512], f_short[512];
  snprintf(f_img, sizeof f_img, "%s", in_tmp("img.idx"));
  snprintf(f_m, sizeof f_m, "%s", in_tmp("m.idx"));
  snprintf(f_m2, sizeof f_m2, "%s", in_tmp("m2.idx"));
  snprintf(f_lab, sizeof f_lab, "%s", in_tmp("lab.idx"));
  snprintf(f_short, sizeof f_short, "%s", in_tmp("short.idx"));
  DataBind b[3] = {{.name = "img", .file = f_img}, {.name = "m", .file = f_m}, {.name = "lab", .file = f_lab}};
  DataSpec spec = {.format = DATA_IDX, .path = "", .scale = 1, .binds = b, .nbinds = 3, .loc = {.file = "f.nn", .line = 4}};
  Dataset d;
  char err[256] = "", want[1024];
  ck_assert_msg(data_load_columns(&spec, COLS, 3, false, INT_MAX, &d, err, sizeof err), "%s", err);
  ck_assert(d.xb == NULL && d.x != NULL);   /* a float input: x is floats, the bytes converted */
  ck_assert(d.x[3] == 255.0f && d.x[4] == 1.0f && d.x[5] == 2.0f && d.x[6] == 1.0f && d.x[10] == 0.0f);
  data_free(&d);
  b[1].file = f_m2;
  ck_assert(!data_load_columns(&spec, COLS, 3, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s: shape [3] gives [] = 1 value per sample, but input 'm' takes 2", f_m2);
  ck_assert_str_eq(err, want);
  b[1].file = f_m;
  b[2].file = f_short;
  ck_assert(!data_load_columns(&spec, COLS, 3, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s: truncated: item 2 is incomplete (the data ends at byte 10 of 11)", f_short);
  ck_assert_str_eq(err, want);
  spec.nbinds = 2;
  ck_assert(!data_load_columns(&spec, COLS, 3, false, INT_MAX, &d, err, sizeof err));
  ck_assert_str_eq(err, "f.nn:4: idx(...) names no file for target 'lab'");
  b[1].file = f_img;   /* 3 images of 4 values: m takes 2 */
  b[2].file = f_lab;
  spec.nbinds = 3;
  static const unsigned char FOUR[] = {0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 2, 0};
  write_bytes("four.idx", FOUR, sizeof FOUR, false);
  b[1].file = f_m;
  b[2].file = xstrdup(in_tmp("four.idx"));
  ck_assert(!data_load_columns(&spec, COLS, 3, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s: 4 items, but %s has 3", b[2].file, f_img);
  ck_assert_str_eq(err, want);
  free((char *)b[2].file);
}
END_TEST

static DataBind bind_cols(const char *name, const char **cols, int n, const char *from, const char *to, int first,
                          int last) {
  return (DataBind){.name = name, .cols = cols, .ncols = n, .from = from, .to = to, .first = first, .last = last};
}

START_TEST(test_columns_csv) {
  write_text("c.csv", "id,p0,p1,p2,p3,a,b,lab,r\n"
                      "x,1,2,3,4,5,6,2,0.5\n"
                      "y,7,8,9,10,11,12,0,-1\n");
  static const char *ab[] = {"b", "a"}, *lab[] = {"lab"};
  DataBind b[4] = {bind_cols("img", NULL, 0, "p0", "p3", -1, -1), bind_cols("m", ab, 2, NULL, NULL, -1, -1),
                   bind_cols("lab", lab, 1, NULL, NULL, -1, -1), bind_cols("r", NULL, 0, NULL, NULL, 8, 8)};
  char path[512];
  snprintf(path, sizeof path, "%s", in_tmp("c.csv"));
  DataSpec spec = {.format = DATA_CSV, .path = path, .scale = 2, .binds = b, .nbinds = 4};
  Dataset d;
  char err[256] = "", want[1024];
  ck_assert_msg(data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err), "%s", err);
  ck_assert_int_eq(d.n, 2);
  static const float wx[12] = {2, 4, 6, 8, 12, 10, 14, 16, 18, 20, 24, 22}, wy[8] = {0, 0, 1, 0.5f, 1, 0, 0, -1};
  ck_assert(memcmp(d.x, wx, sizeof wx) == 0);
  ck_assert(memcmp(d.y, wy, sizeof wy) == 0);
  data_free(&d);
  b[0] = bind_cols("img", NULL, 0, NULL, NULL, 1, 4);   /* by index: the same */
  ck_assert_msg(data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err), "%s", err);
  ck_assert(memcmp(d.x, wx, sizeof wx) == 0);
  data_free(&d);
  b[0] = bind_cols("img", NULL, 0, "p0", "p2", -1, -1);
  ck_assert(!data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s: columns(\"p0\", \"p2\") are 3 columns, but input 'img' takes 4", path);
  ck_assert_str_eq(err, want);
  b[0] = bind_cols("img", NULL, 0, "p0", "p9", -1, -1);
  ck_assert(!data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s:1: no column named 'p9' (for input 'img')", path);
  ck_assert_str_eq(err, want);
  b[0] = bind_cols("img", NULL, 0, NULL, NULL, 6, 9);
  ck_assert(!data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s:1: 9 columns, but input 'img' takes column 9 (columns count from 0)", path);
  ck_assert_str_eq(err, want);
  b[0] = bind_cols("img", NULL, 0, NULL, NULL, 1, 4);
  write_text("c.csv", "1,2,3,4,5,6,2,0.5,9\n1,2,3,4,5,6,7,0.5,9\n");   /* no header: names cannot be found */
  ck_assert(!data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s: input 'm' takes columns by name, but the file has no header row of names", path);
  ck_assert_str_eq(err, want);
  write_text("c.csv", "id,p0,p1,p2,p3,a,b,lab,r\nx,1,2,3,4,5,6,3,0.5\n");
  ck_assert(!data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s:2:15: label 3 out of range 0..2", path);
  ck_assert_str_eq(err, want);
  write_text("c.csv", "id,p0,p1,p2,p3,a,b,lab,r\nx,1,2,3,4,5,6,2,0.5\nx,1,2,3,4,5,6,2\n");
  ck_assert(!data_load_columns(&spec, COLS, 4, false, INT_MAX, &d, err, sizeof err));
  snprintf(want, sizeof want, "%s:3: 8 columns, expected 9 like the first row", path);
  ck_assert_str_eq(err, want);
  /* prediction data: the inputs' columns alone are read, whatever the others hold */
  write_text("c.csv", "id,p0,p1,p2,p3,a,b,lab,r\nx,1,2,3,4,5,6,?,?\n");
  ck_assert_msg(data_load_columns(&spec, COLS, 4, true, INT_MAX, &d, err, sizeof err), "%s", err);
  ck_assert(d.n == 1 && d.nfeat == 6 && d.ntarget == 0);
  data_free(&d);
}
END_TEST

Suite *data_suite(void) {
  Suite *s = suite_create("data");
  TCase *tc = tcase_create("idx");
  tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(tc, test_idx_fashion_slice);
  tcase_add_test(tc, test_idx_plain_and_gz);
  tcase_add_test(tc, test_idx_float_and_real_targets);
  tcase_add_test(tc, test_idx_bytes_as_floats);
  tcase_add_test(tc, test_byte_rows);
  tcase_add_loop_test(tc, test_idx_errors, 0, (int)(sizeof idx_cases / sizeof idx_cases[0]));
  tcase_add_test(tc, test_idx_directory_and_bad_gzip);
  tcase_add_test(tc, test_idx_fuzz);
  suite_add_tcase(s, tc);
  TCase *tcsv = tcase_create("csv");
  tcase_add_checked_fixture(tcsv, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(tcsv, test_csv_classes_header);
  tcase_add_test(tcsv, test_csv_real_targets_first);
  tcase_add_test(tcsv, test_csv_header_detect_and_bom);
  tcase_add_test(tcsv, test_csv_nul_byte);
  tcase_add_loop_test(tcsv, test_csv_errors, 0, (int)(sizeof csv_cases / sizeof csv_cases[0]));
  tcase_add_test(tcsv, test_idx_features_only);
  tcase_add_test(tcsv, test_csv_features_only);
  tcase_add_loop_test(tcsv, test_csv_features_errors, 0, (int)(sizeof feature_cases / sizeof feature_cases[0]));
  suite_add_tcase(s, tcsv);
  TCase *tp = tcase_create("prepare");
  tcase_add_test(tp, test_standardize);
  tcase_add_test(tp, test_split);
  tcase_add_test(tp, test_split_errors);
  tcase_add_test(tp, test_gather);
  suite_add_tcase(s, tp);
  TCase *tcol = tcase_create("columns");
  tcase_add_checked_fixture(tcol, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(tcol, test_columns_idx);
  tcase_add_test(tcol, test_columns_idx_floats_and_errors);
  tcase_add_test(tcol, test_columns_csv);
  suite_add_tcase(s, tcol);
  return s;
}
