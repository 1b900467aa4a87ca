/* compile_two_heads: examples/fashion_two_heads.nn through the object `nnc
 * compile --weights` writes (header fashion_two_heads.h), linked with libc
 * and libm only.  Used by compile_two_heads.sh.
 *
 *   compile_two_heads IMAGES META LABELS KINDS   (uncompressed IDX files)
 *
 * Checks the selftest, feeds both inputs (scaled by 1/255, as the train
 * block says) to forward in batches and prints both outputs' accuracy
 * ("label accuracy A  kind accuracy K", as nnc eval prints them) and the
 * first five predictions ("image I: CLASS,KIND").  Then trains: twenty
 * train steps on the first batch, both targets one-hot, must lower the
 * loss; prints "train loss FIRST -> LAST".
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fashion_two_heads.h"

#define P(f) fashion_two_heads_##f
#define B FASHION_TWO_HEADS_BATCH
#define IMAGE FASHION_TWO_HEADS_IN_IMAGE_SAMPLE
#define META FASHION_TWO_HEADS_IN_META_SAMPLE
#define CLASSES FASHION_TWO_HEADS_TARGET_LABEL_CLASSES
#define KINDS FASHION_TWO_HEADS_TARGET_KIND_CLASSES

/* The items of an IDX file of unsigned bytes: *count items of *width bytes. */
static unsigned char *read_idx(const char *path, uint32_t *count, uint32_t *width) {
  FILE *f = fopen(path, "rb");
  unsigned char hdr[4], dim[4], *data = NULL;
  if (!f) return NULL;
  if (fread(hdr, 1, 4, f) == 4 && hdr[0] == 0 && hdr[1] == 0 && hdr[2] == 8 && hdr[3] >= 1 && hdr[3] <= 3) {
    size_t n = 1;
    *width = 1;
    for (int i = 0; i < hdr[3] && fread(dim, 1, 4, f) == 4; i++) {
      uint32_t d = (uint32_t)dim[0] << 24 | dim[1] << 16 | dim[2] << 8 | dim[3];
      n *= d;
      if (i == 0) *count = d;
      else *width *= d;
    }
    data = malloc(n);
    if (data && fread(data, 1, n, f) != n) {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  return data;
}

static int argmax(const float *v, int k) {
  int best = 0;
  for (int i = 1; i < k; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

static int fail(const char *what) {
  fprintf(stderr, "compile_two_heads: %s\n", what);
  return 1;
}

/* Copies the batch of samples [start, start + b) into the input buffers. */
static void gather(const unsigned char *img, const unsigned char *meta, uint32_t start, int b, float *x, float *m) {
  for (int64_t i = 0; i < (int64_t)b * IMAGE; i++) x[i] = img[(int64_t)start * IMAGE + i] * (1.0f / 255);
  for (int64_t i = 0; i < (int64_t)b * META; i++) m[i] = meta[(int64_t)start * META + i] * (1.0f / 255);
}

int main(int argc, char **argv) {
  if (argc != 5) return fail("usage: compile_two_heads IMAGES META LABELS KINDS");
  if (P(selftest)() != 0) return fail("selftest failed");
  uint32_t n[4] = {0}, w[4] = {0};
  unsigned char *d[4];
  for (int i = 0; i < 4; i++)
    if (!(d[i] = read_idx(argv[i + 1], &n[i], &w[i]))) return fail("cannot read an IDX file");
  if (n[1] != n[0] || n[2] != n[0] || n[3] != n[0] || w[0] != IMAGE || w[1] != META) return fail("files disagree");
  void *state = aligned_alloc(FASHION_TWO_HEADS_STATE_ALIGN, FASHION_TWO_HEADS_STATE_BYTES);
  if (!state || P(init)(state, 0) != 0) return fail("init");
  static float x[B * IMAGE], m[B * META], logits[B * CLASSES], kinds[B * KINDS];
  uint32_t right[2] = {0, 0};
  for (uint32_t start = 0; start < n[0]; start += B) {
    int b = n[0] - start < B ? (int)(n[0] - start) : B;
    gather(d[0], d[1], start, b, x, m);
    if (P(forward)(state, x, m, b, logits, kinds) != 0) return fail("forward");
    for (int i = 0; i < b; i++) {
      int c = argmax(logits + i * CLASSES, CLASSES), k = argmax(kinds + i * KINDS, KINDS);
      right[0] += c == d[2][start + i];
      right[1] += k == d[3][start + i];
      if (start + i < 5) printf("image %u: %d,%d\n", start + i, c, k);
    }
  }
  printf("label accuracy %.4f  kind accuracy %.4f\n", (double)right[0] / n[0], (double)right[1] / n[0]);
  static float label[B * CLASSES], kind[B * KINDS];
  gather(d[0], d[1], 0, B, x, m);
  for (int i = 0; i < B; i++) {
    label[i * CLASSES + d[2][i]] = 1;
    kind[i * KINDS + d[3][i]] = 1;
  }
  float first = P(train_step)(state, x, m, label, kind), last = first;
  for (int s = 1; s < 20; s++) last = P(train_step)(state, x, m, label, kind);
  printf("train loss %.6f -> %.6f\n", first, last);
  if (!(isfinite(last) && last < first)) return fail("training did not lower the loss");
  if (P(forward)(state, NULL, m, 1, logits, kinds) != -1) return fail("a NULL input was taken");
  free(state);
  for (int i = 0; i < 4; i++) free(d[i]);
  return 0;
}
