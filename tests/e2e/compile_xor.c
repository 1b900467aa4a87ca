/* compile_xor: a plain C program using an object written by
 * `nnc compile examples/xor.nn` (header xor.h), linked with libc and libm
 * only.  Used by compile_xor.sh.
 *
 *   compile_xor predict CSV [IMAGE]   forward on every row of CSV (header
 *                                     line, features first), one %.9g per
 *                                     line; weights from IMAGE via xor_load
 *                                     when given, else from xor_init
 *   compile_xor train CSV STEPS SEED  xor_init(SEED), STEPS train steps on
 *                                     the first XOR_BATCH rows; prints the
 *                                     last step's loss (%.9g)
 *
 * Both modes first check xor_selftest() and the get/set accessors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xor.h"

enum { MAX_ROWS = 1024, COLS = XOR_SAMPLE_FLOATS + XOR_TARGET_FLOATS / XOR_BATCH };

static int fail(const char *what) {
  fprintf(stderr, "compile_xor: %s\n", what);
  return 1;
}

/* Reads up to MAX_ROWS rows of COLS numbers after a header line. */
static int read_csv(const char *path, float *rows) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[512];
  int n = 0;
  if (!fgets(line, sizeof line, f)) n = -1;
  while (n >= 0 && n < MAX_ROWS && fgets(line, sizeof line, f)) {
    char *p = line;
    for (int k = 0; k < COLS; k++) {
      rows[n * COLS + k] = strtof(p, &p);
      if (*p == ',') p++;
    }
    n++;
  }
  fclose(f);
  return n;
}

static void *load_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc(*len ? *len : 1);
  if (p && fread(p, 1, *len, f) != *len) {
    free(p);
    p = NULL;
  }
  fclose(f);
  return p;
}

int main(int argc, char **argv) {
  if (argc < 3) return fail("usage: compile_xor predict CSV [IMAGE] | train CSV STEPS SEED");
  if (xor_selftest() != 0) return fail("xor_selftest failed");
  static float rows[MAX_ROWS * COLS];
  int n = read_csv(argv[2], rows);
  if (n < XOR_BATCH) return fail("cannot read the CSV file");
  void *state = aligned_alloc(XOR_STATE_ALIGN, XOR_STATE_BYTES);
  if (!state) return fail("out of memory");
  if (xor_init(state, argc > 4 ? strtoull(argv[4], NULL, 10) : 0) != 0) return fail("xor_init failed");

  /* accessors: a round trip through get and set, and the refusals */
  float w[8], w2[8];
  if (xor_get(state, "h.w", w, 8) != 0 || xor_set(state, "h.w", w, 8) != 0 || xor_get(state, "h.w", w2, 8) != 0 ||
      memcmp(w, w2, sizeof w) != 0)
    return fail("get/set round trip of h.w");
  if (xor_get(state, "h.w", w, 7) != -1 || xor_get(state, "nope", w, 8) != -1) return fail("bad get accepted");

  if (strcmp(argv[1], "predict") == 0) {
    if (argc > 3) {
      size_t len = 0;
      void *image = load_file(argv[3], &len);
      if (!image || xor_load(state, image, len) != 0) return fail("cannot load the weight image");
      if (xor_load(state, image, len - 1) != -1) return fail("a truncated image was accepted");
      free(image);
    }
    for (int start = 0; start < n; start += XOR_BATCH) {
      int m = n - start < XOR_BATCH ? n - start : XOR_BATCH;
      float x[XOR_INPUT_FLOATS], out[XOR_OUTPUT_FLOATS];
      for (int r = 0; r < m; r++) memcpy(x + r * XOR_SAMPLE_FLOATS, rows + (start + r) * COLS, sizeof(float) * XOR_SAMPLE_FLOATS);
      if (xor_forward(state, x, m, out) != 0) return fail("xor_forward failed");
      for (int r = 0; r < m * XOR_OUTPUT_WIDTH; r++) printf("%.9g\n", out[r]);
    }
    if (xor_forward(state, rows, XOR_BATCH + 1, w) != -1) return fail("an oversized batch was accepted");
  } else if (strcmp(argv[1], "train") == 0 && argc == 5) {
    float x[XOR_INPUT_FLOATS], y[XOR_TARGET_FLOATS], loss = NAN;
    for (int r = 0; r < XOR_BATCH; r++) {
      memcpy(x + r * XOR_SAMPLE_FLOATS, rows + r * COLS, sizeof(float) * XOR_SAMPLE_FLOATS);
      y[r] = rows[r * COLS + XOR_SAMPLE_FLOATS];
    }
    for (long s = atol(argv[3]); s > 0; s--) loss = xor_train_step(state, x, y);
    printf("%.9g\n", loss);
  } else {
    return fail("unknown mode");
  }
  free(state);
  return 0;
}
