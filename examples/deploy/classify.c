/* classify: Fashion-MNIST test images through a model compiled by
 * `nnc compile ../fashion_mlp.nn --weights fashion.ckpt -o fashion_mlp.o`.
 *
 * Needs only the object, its header and libc/libm:
 *     cc -O2 classify.c fashion_mlp.o -lm -o classify
 *     ./classify t10k-images-idx3-ubyte t10k-labels-idx1-ubyte
 * The IDX files are the uncompressed ones (gunzip -k first).  Pixels are
 * scaled by 1/255, as the model's train block says; the weights are embedded
 * in the object, so there is nothing else to load.  Another model of 28x28
 * images and 10 classes is named at compile time (build.sh does this):
 *     cc -DMODEL_HEADER='"fashion_cnn.h"' -D'MODEL(f)=fashion_cnn_##f' \
 *        -D'MODEL_CONST(c)=FASHION_CNN_##c' ... classify.c fashion_cnn.o -lm
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef MODEL_HEADER
#define MODEL_HEADER "fashion_mlp.h"
#define MODEL(f) fashion_mlp_##f
#define MODEL_CONST(c) FASHION_MLP_##c
#endif
#include MODEL_HEADER

static const char *const NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* A whole IDX file whose header has `ndims` dimensions after the magic;
 * *count gets the first dimension.  NULL on any problem. */
static unsigned char *read_idx(const char *path, unsigned magic, int ndims, uint32_t *count) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char hdr[16];
  size_t hlen = 4 + 4 * (size_t)ndims, n = 1;
  unsigned char *data = NULL;
  if (fread(hdr, 1, hlen, f) == hlen) {
    uint32_t dims[3];
    for (int i = 0; i <= ndims; i++)
      dims[i > 0 ? i - 1 : 0] = (uint32_t)hdr[4 * i] << 24 | hdr[4 * i + 1] << 16 | hdr[4 * i + 2] << 8 | hdr[4 * i + 3];
    uint32_t m = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
    if (m == magic) {
      for (int i = 0; i < ndims; i++) n *= dims[i];
      *count = dims[0];
      data = malloc(n);
      if (data && fread(data, 1, n, f) != n) {
        free(data);
        data = NULL;
      }
    }
  }
  fclose(f);
  return data;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: classify IMAGES LABELS (uncompressed IDX files)\n");
    return 2;
  }
  int bad = MODEL(selftest)();
  if (bad != 0) {
    fprintf(stderr, "classify: selftest failed (%d outputs differ): broken build?\n", bad);
    return 1;
  }
  uint32_t n = 0, nlabels = 0;
  unsigned char *images = read_idx(argv[1], 0x803, 3, &n);
  unsigned char *labels = read_idx(argv[2], 0x801, 1, &nlabels);
  if (!images || !labels || n != nlabels) {
    fprintf(stderr, "classify: cannot read %s and %s as IDX images and labels\n", argv[1], argv[2]);
    return 1;
  }
  void *state = aligned_alloc(MODEL_CONST(STATE_ALIGN), MODEL_CONST(STATE_BYTES));
  if (!state || MODEL(init)(state, 0) != 0) return 1;
  static float x[MODEL_CONST(INPUT_FLOATS)], out[MODEL_CONST(OUTPUT_FLOATS)];
  uint32_t correct = 0;
  for (uint32_t start = 0; start < n; start += MODEL_CONST(BATCH)) {
    int b = n - start < MODEL_CONST(BATCH) ? (int)(n - start) : MODEL_CONST(BATCH);
    for (int64_t i = 0; i < (int64_t)b * MODEL_CONST(SAMPLE_FLOATS); i++)
      x[i] = images[(int64_t)start * MODEL_CONST(SAMPLE_FLOATS) + i] * (1.0f / 255);
    MODEL(forward)(state, x, b, out);
    for (int r = 0; r < b; r++) {
      const float *logits = out + r * MODEL_CONST(OUTPUT_WIDTH);
      int best = 0;
      for (int k = 1; k < MODEL_CONST(OUTPUT_WIDTH); k++)
        if (logits[k] > logits[best]) best = k;
      correct += best == labels[start + r];
      if (start + r < 5) printf("image %u: %-11s (label %s)\n", start + r, NAMES[best], NAMES[labels[start + r]]);
    }
  }
  printf("accuracy %.4f (%u of %u test images)\n", (double)correct / n, correct, n);
  free(state);
  free(images);
  free(labels);
  return 0;
}
