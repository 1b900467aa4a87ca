/* fuzz_data: the CSV and IDX readers on plain, gzipped and truncated files.
 *
 * The first three bytes choose how the rest is read:
 *   byte 0: bit 0 IDX (else CSV); bit 1 gzip the file(s); bit 2 cut the
 *           gzip stream short; bits 3-4 the target: class labels, real
 *           values, or none (features only, as prediction reads); bit 5 a
 *           CSV header row; bit 6 target columns first
 *   byte 1: features per sample (1 to 8), classes or target width (1 to 4)
 *   byte 2: IDX: where the rest splits into the images and labels files;
 *           gzip cut: the fraction of the stream kept
 * A file that loads must hold what the model asked for (finite features,
 * labels in range) and survive standardization, a validation split and
 * batching.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data.h"
#include "fuzz.h"

typedef struct {
  bool idx, gzip, cut, header, target_first;
  int kind;          /* 0 classes, 1 real targets, 2 features only */
  int nfeat, width;  /* features per sample; classes or target width */
  uint8_t split;     /* byte 2 */
} Mode;

/* gzip of p[0..n) (a whole gzip stream), cut to keep/256 of it if asked. */
static uint8_t *gzipped(const uint8_t *p, size_t n, const Mode *m, size_t *out_len) {
  uLong cap = compressBound((uLong)n) + 32;
  uint8_t *out = malloc(cap);
  z_stream z = {0};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) fuzz_fail("deflateInit2");
  z.next_in = (Bytef *)p;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) fuzz_fail("deflate");
  *out_len = z.total_out;
  deflateEnd(&z);
  if (m->cut) *out_len = *out_len * m->split / 256;
  return out;
}

/* Writes p[0..n) to name as the mode says; returns its path. */
static const char *put(const char *name, const uint8_t *p, size_t n, const Mode *m) {
  const char *path = fuzz_path(name);
  if (!m->gzip) {
    fuzz_write(path, p, n);
    return path;
  }
  size_t len;
  uint8_t *z = gzipped(p, n, m, &len);
  fuzz_write(path, z, len);
  free(z);
  return path;
}

/* What a loaded set must be, then the operations training applies to it. */
static void exercise(Dataset *d, const Mode *m) {
  if (d->n < 1) fuzz_fail("a loaded data set without samples");
  if ((d->x == NULL) == (d->xb == NULL)) fuzz_fail("features neither floats nor bytes, or both");
  for (size_t i = 0; d->x && i < (size_t)d->n * (size_t)d->nfeat; i++)
    if (!isfinite(d->x[i])) fuzz_fail("a feature that is not finite");
  for (size_t i = 0; d->xb && i < (size_t)d->n * (size_t)d->nfeat; i++)
    if (!isfinite(d->byte_value[d->xb[i]])) fuzz_fail("a byte feature that is not finite");
  for (int i = 0; d->labels && i < d->n; i++)
    if (d->labels[i] < 0 || d->labels[i] >= d->nclasses) fuzz_fail("a label out of range");
  Dataset val;
  char err[512];
  if (m->kind != 2 && d->n >= 2 && data_split(d, 0.5, 7, &val, err, sizeof err)) data_free(&val);
  int idx[2] = {0, d->n - 1};
  float *x = malloc(sizeof(float) * 2 * (size_t)d->nfeat), *y = malloc(sizeof(float) * 2 * (size_t)(d->ntarget + 1));
  data_gather(d, idx, 2, x, y);
  free(x);
  free(y);
  DataNorm norm;
  data_norm_fit(d, &norm);
  data_norm_apply(&norm, d);
  data_norm_free(&norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  Mode m = {.idx = data[0] & 1, .gzip = data[0] >> 1 & 1, .cut = data[0] >> 2 & 1, .kind = (data[0] >> 3 & 3) % 3,
            .header = data[0] >> 5 & 1, .target_first = data[0] >> 6 & 1, .nfeat = 1 + (data[1] & 7),
            .width = 1 + (data[1] >> 3 & 3), .split = data[2]};
  const uint8_t *p = data + 3;
  size_t n = size - 3;
  DataSpec spec = {.format = m.idx ? DATA_IDX : DATA_CSV, .scale = 1, .header = m.header,
                   .target_first = m.target_first};
  if (m.idx) {
    size_t at = n * m.split / 256;
    spec.images = put("images", p, at, &m);
    spec.labels = put("labels", p + at, n - at, &m);
  } else {
    spec.path = put(m.gzip ? "data.csv.gz" : "data.csv", p, n, &m);
  }
  Dataset d;
  char err[1024];
  int nclasses = m.kind == 0 ? m.width + 1 : 0, ntarget = m.kind == 1 ? m.width : 0;   /* two classes at least */
  bool ok = m.kind == 2 ? data_load_features(&spec, m.nfeat, m.width, &d, err, sizeof err)
                        : data_load(&spec, m.nfeat, nclasses, ntarget, &d, err, sizeof err);
  if (ok) exercise(&d, &m);
  else if (strncmp(err, fuzz_dir(), strlen(fuzz_dir())) != 0)
    fuzz_fail("a refusal that does not start with the file's name");
  data_free(&d);
  return 0;
}
