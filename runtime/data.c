/* data: the IDX and CSV readers, standardization, validation split, batching.
 *
 * Both readers go through zlib's gz* API, which reads gzip-compressed and
 * plain files alike (it looks at the magic bytes), so "x.gz" and "x" are the
 * same to everything below.  Files are treated as hostile: every length comes
 * from the file and is checked before it is trusted, and output buffers grow
 * as samples actually arrive, so a header claiming four billion samples costs
 * nothing until the data is there.
 *
 * Messages name the file first ("FILE: reason", CSV adds ":LINE:COL") and say
 * what was expected; they are the only thing the user sees of a bad file.
 */
#include "data.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "byterow.h"
#include "cache.h"
#include "rng.h"
#include "util.h"


/* Grows the buffer *bufp (any pointer type; elements of esize bytes) to
 * hold at least need elements, doubling to keep appends amortized O(1).
 * Running out of memory on a large file is news for the user, not a crash:
 * false, with the size asked for, in err (*bufp stays valid). */
static bool reserve(void *bufp, size_t *cap, size_t need, size_t esize, const char *path, char *err,
                    size_t errlen) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : 1024;
  while (c < need && c <= SIZE_MAX / 4 / esize) c *= 2;
  void *old, *p = NULL;
  memcpy(&old, bufp, sizeof old);
  if (c >= need) p = realloc(old, c * esize);
  if (!p)
    return errorf(err, errlen, "%s: out of memory: could not allocate %.0f MiB to load it", path,
                  (double)c * (double)esize / (1 << 20));
  memcpy(bufp, &p, sizeof p);
  *cap = c;
  return true;
}

/* Features must fit a float: 1e40 would become infinity and poison training
 * far from where it came from. */
static bool fits_float(double v) { return fabs(v) <= FLT_MAX; }

/* The targets of one sample: class labels become a one-hot row. */
static void set_class(Dataset *d, int i, int label) {
  float *row = d->y + (size_t)i * (size_t)d->ntarget;
  for (int k = 0; k < d->ntarget; k++) row[k] = 0.0f;
  row[label] = 1.0f;
  d->labels[i] = label;
}

/* True if v is a class index 0..nclasses-1; else says why in msg. */
static bool label_ok(double v, int nclasses, char *msg, size_t len) {
  if (v != floor(v)) {
    snprintf(msg, len, "label %.9g is not an integer", v);
    return false;
  }
  if (v < 0 || v >= nclasses) {
    snprintf(msg, len, "label %.9g out of range 0..%d", v, nclasses - 1);
    return false;
  }
  return true;
}

/* ---- gz reading shared by both formats ---- */

/* Why the last gzread on f (opened as path) failed, as text.  zlib puts
 * "path: " (or "<fd:N>: " for a descriptor) in front of its own messages;
 * ours already start with the path. */
static const char *gz_reason(gzFile f, const char *path) {
  int code = 0;
  const char *msg = gzerror(f, &code);
  if (code == Z_ERRNO) return strerror(errno);
  const char *fd_end = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
  if (fd_end) return fd_end + 3;
  size_t n = strlen(path);
  return strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0 ? msg + n + 2 : msg;
}

/* ---- IDX ----
 * Header: two zero bytes, an element type byte, a rank byte, then rank
 * big-endian uint32 dimensions; dimension 0 counts the items.  Data follows
 * in big-endian row-major order. */

enum { IDX_MAX_RANK = 8 };   /* more dimensions than any image data needs */

typedef struct {
  uint8_t code;       /* type byte in the header */
  int size;           /* bytes per element */
  const char *name;   /* for messages */
} IdxType;

static const IdxType idx_types[] = {
  {0x08, 1, "unsigned byte"}, {0x09, 1, "signed byte"}, {0x0B, 2, "int16"},
  {0x0C, 4, "int32"},         {0x0D, 4, "float32"},     {0x0E, 8, "float64"},
};

typedef struct {
  char *path;                 /* file actually opened (heap) */
  gzFile f;                   /* open stream */
  const IdxType *type;        /* element type */
  int rank;                   /* number of dimensions, >= 1 */
  uint32_t dim[IDX_MAX_RANK]; /* dimensions as stored */
  int64_t per_item;           /* product of dim[1..rank), saturated at INT_MAX + 1 */
  uint64_t pos;               /* bytes consumed (after decompression) */
  uint64_t stored;            /* the file's size on disk, 0 where stat cannot tell */
  struct stat st;             /* the file read, as opened (st_mode 0 where fstat failed) */
  bool cache;                 /* its items may come from, and go to, the cache (DataSpec.cache) */
} IdxFile;

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static double idx_value(const uint8_t *p, uint8_t code) {
  switch (code) {
  case 0x08: return p[0];
  case 0x09: return (int8_t)p[0];
  case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
  case 0x0C: return (int32_t)be32(p);
  case 0x0D: {
    uint32_t u = be32(p);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
  }
  default: {
    uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
  }
  }
}

/* "[10000,28,28]" for the whole file or "[28,28]" from dimension `from` on. */
static char *idx_shape(const IdxFile *f, int from, char *buf, size_t len) {
  size_t at = (size_t)snprintf(buf, len, "[");
  for (int i = from; i < f->rank && at < len; i++)
    at += (size_t)snprintf(buf + at, len - at, "%s%u", i > from ? "," : "", f->dim[i]);
  if (at < len) snprintf(buf + at, len - at, "]");
  return buf;
}

/* Reads exactly n bytes; false if the stream ended or failed first (*got
 * says how many arrived, -1 for a read error).  A gzip stream cut short is
 * an end (Z_BUF_ERROR), damaged compressed data an error even when some
 * bytes came out before it. */
static bool idx_read(IdxFile *f, void *buf, size_t n, int *got) {
  int r = gzread(f->f, buf, (unsigned)n);
  if (r > 0) f->pos += (uint64_t)r;
  int code = Z_OK;
  if (r >= 0 && r < (int)n) gzerror(f->f, &code);
  *got = code == Z_OK || code == Z_BUF_ERROR ? r : -1;
  return r == (int)n;
}

static void idx_close(IdxFile *f) {
  if (f->f) gzclose(f->f);
  free(f->path);
  memset(f, 0, sizeof *f);
}

/* path opened for reading through zlib, and what fstat says of the very
 * file opened (a cache key must name the bytes read, not whatever the path
 * names by then). */
static gzFile gz_open(const char *path, struct stat *st) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  if (fstat(fd, st) != 0) memset(st, 0, sizeof *st);
  gzFile f = gzdopen(fd, "rb");
  if (!f) {
    close(fd);
    errno = ENOMEM;
  }
  return f;
}

/* Opens `given`, or else PREFIX-STEM and then PREFIX-STEM.gz, whichever exists. */
static bool idx_open_file(IdxFile *f, const char *given, const char *prefix, const char *stem,
                          char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  if (!given && !prefix) die("data: idx spec without a path prefix or an explicit %s file", stem);
  size_t len = given ? strlen(given) + 1 : strlen(prefix) + strlen(stem) + 5;
  f->path = xmalloc(len);
  if (given)
    snprintf(f->path, len, "%s", given);
  else
    snprintf(f->path, len, "%s-%s", prefix, stem);
  f->f = gz_open(f->path, &f->st);
  int e = errno;
  bool tried_gz = false;
  if (!f->f && e == ENOENT && !given) {
    strcat(f->path, ".gz");
    f->f = gz_open(f->path, &f->st);
    e = errno;
    tried_gz = true;
  }
  if (!f->f) {
    if (tried_gz && e == ENOENT) f->path[strlen(f->path) - 3] = '\0';
    bool r = tried_gz && e == ENOENT
      ? errorf(err, errlen, "%s: cannot open: %s (nor %s.gz)", f->path, strerror(e), f->path)
      : errorf(err, errlen, "%s: cannot open: %s", f->path, strerror(e));
    idx_close(f);
    return r;
  }
  /* 32 KiB of input at a time inflates as fast as more, and a header read
   * inflates only twice that: with 256 KiB, reading a 16-byte header took
   * 5-8 ms */
  gzbuffer(f->f, 1 << 15);
  if (S_ISREG(f->st.st_mode)) f->stored = (uint64_t)f->st.st_size;
  return true;
}

/* The most bytes f can still deliver: what is stored, or for gzip what
 * deflate's largest ratio (1032:1) makes of it; UINT64_MAX for a stream
 * stat cannot size.  A header that claims more is not believed up front. */
static uint64_t idx_most_left(IdxFile *f) {
  if (!f->stored) return UINT64_MAX;
  uint64_t most = gzdirect(f->f) ? f->stored : f->stored * 1032;
  return most > f->pos ? most - f->pos : 0;
}

static bool idx_header(IdxFile *f, char *err, size_t errlen) {
  uint8_t magic[4];
  int got;
  if (!idx_read(f, magic, 4, &got)) {
    if (got < 0) return errorf(err, errlen, "%s: read error: %s", f->path, gz_reason(f->f, f->path));
    if (got == 0) return errorf(err, errlen, "%s: empty file", f->path);
    return errorf(err, errlen, "%s: truncated IDX header (the file has %d bytes)", f->path, got);
  }
  if (magic[0] != 0 || magic[1] != 0)
    return errorf(err, errlen,
                "%s: not an IDX file (starts with %02x %02x %02x %02x; IDX starts with 00 00, "
                "a type byte and a rank byte)",
                f->path, magic[0], magic[1], magic[2], magic[3]);
  for (size_t i = 0; i < COUNT_OF(idx_types); i++)
    if (idx_types[i].code == magic[2]) f->type = &idx_types[i];
  if (!f->type)
    return errorf(err, errlen,
                "%s: unsupported IDX element type 0x%02x (supported: 0x08 unsigned byte, 0x09 "
                "signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)",
                f->path, magic[2]);
  f->rank = magic[3];
  if (f->rank < 1 || f->rank > IDX_MAX_RANK)
    return errorf(err, errlen, "%s: IDX rank %d is not supported (1 to %d dimensions)", f->path,
                f->rank, IDX_MAX_RANK);
  uint8_t dims[4 * IDX_MAX_RANK];
  if (!idx_read(f, dims, 4 * (size_t)f->rank, &got)) {
    if (got < 0) return errorf(err, errlen, "%s: read error: %s", f->path, gz_reason(f->f, f->path));
    return errorf(err, errlen, "%s: truncated IDX header (the file has %d bytes, the header needs %d)",
                f->path, 4 + got, 4 + 4 * f->rank);
  }
  f->per_item = 1;
  for (int i = 0; i < f->rank; i++) {
    f->dim[i] = be32(dims + 4 * i);
    if (i > 0) {
      f->per_item *= f->dim[i];
      if (f->per_item > INT_MAX) f->per_item = (int64_t)INT_MAX + 1;
    }
  }
  if (f->dim[0] == 0) return errorf(err, errlen, "%s: no samples (dimension 0 is 0)", f->path);
  return true;
}

/* How many of f's items a load of at most max_samples takes. */
static int idx_taken(const IdxFile *f, int max_samples) {
  return f->dim[0] < (uint32_t)max_samples ? (int)f->dim[0] : max_samples;
}

/* The error for a read that stopped inside item (got < 0: a read error). */
static bool idx_short_read(IdxFile *f, int item, int got, uint64_t total, char *err, size_t errlen) {
  if (got < 0)
    return errorf(err, errlen, "%s: read error at item %d: %s", f->path, item, gz_reason(f->f, f->path));
  return errorf(err, errlen, "%s: truncated: item %d is incomplete (the data ends at byte %llu of %llu)",
                f->path, item, (unsigned long long)f->pos, (unsigned long long)total);
}

/* Inflating Fashion-MNIST's training images takes about 200 ms, reading
 * them back from the cache about 40 (AMD Zen 5), a large share of the time
 * to a first step; a small file inflates faster than the cache pays. */
enum { CACHE_MIN_BYTES = 1 << 20 };

/* What identifies the contents of the file opened without reading them:
 * the same file (device, inode) with the same size and times. */
enum { IDENTITY_FIELDS = 7 };
static void identity(const struct stat *st, int64_t id[IDENTITY_FIELDS]) {
  const int64_t v[IDENTITY_FIELDS] = {(int64_t)st->st_dev,         (int64_t)st->st_ino,
                                      (int64_t)st->st_size,        (int64_t)st->st_mtim.tv_sec,
                                      (int64_t)st->st_mtim.tv_nsec, (int64_t)st->st_ctim.tv_sec,
                                      (int64_t)st->st_ctim.tv_nsec};
  memcpy(id, v, sizeof v);
}

/* The cache entry of f's len bytes of items: its name, from the file's real
 * path (a new version of the file replaces the old one's entry), and its
 * key, from the file's identity too (a file rewritten, replaced or touched
 * is a miss).  False where the file cannot be named or is not regular. */
static bool idx_cache_key(const IdxFile *f, size_t len, CacheKey *name, CacheKey *key) {
  char *real = S_ISREG(f->st.st_mode) ? realpath(f->path, NULL) : NULL;
  if (!real) return false;
  Hasher h;
  hash_init(&h);
  hash_str(&h, "nnc inflated IDX items 1");
  hash_str(&h, real);
  uint64_t at[] = {f->pos, len};
  hash_bytes(&h, at, sizeof at);
  *name = hash_done(&h);
  int64_t id[IDENTITY_FIELDS];
  identity(&f->st, id);
  hash_bytes(&h, id, sizeof id);
  *key = hash_done(&h);
  free(real);
  return true;
}

/* Whether the items just inflated may be stored under the key taken when
 * the file was opened: it is still the same file, and was last changed
 * more than two seconds ago, beyond the reach of a timestamp's granularity
 * (a file rewritten within one tick of the same size would keep its key). */
static bool idx_settled(const IdxFile *f) {
  struct stat now;
  if (stat(f->path, &now) != 0) return false;
  int64_t then_id[IDENTITY_FIELDS], now_id[IDENTITY_FIELDS];
  identity(&f->st, then_id);
  identity(&now, now_id);
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return memcmp(then_id, now_id, sizeof now_id) == 0 && t.tv_sec - now.st_mtim.tv_sec > 2 &&
         t.tv_sec - now.st_ctim.tv_sec > 2;
}

/* Reads n items of unsigned bytes as they are, in large reads with no work
 * per element, and fills d's byte table.  d->xb takes the header's size at
 * once, in huge pages (big_alloc), so that no page is written twice or moved
 * by a realloc: a moved page cost its first reader about 4 us again on a
 * virtual machine, 45 ms of a first Fashion-MNIST epoch.  Where that much
 * memory is not there, or the file cannot hold what its header claims (a
 * header may lie), it grows as the data arrives and the reader meets the
 * file's true end. */
static bool idx_bytes(IdxFile *f, int n, double scale, Dataset *d, char *err, size_t errlen) {
  size_t width = (size_t)f->per_item, want = (size_t)n * width, have = 0, cap = 0;
  uint64_t total = 4 + 4 * (uint64_t)f->rank + (uint64_t)f->dim[0] * width;
  if (!d->xb && want <= idx_most_left(f) && (d->xb = big_alloc(want, 1))) cap = want;
  /* every item of a large gzipped file: from the cache, or into it once read */
  CacheKey name, key;
  bool cacheable = f->cache && cap == want && n == (int)f->dim[0] && want >= CACHE_MIN_BYTES &&
                   want <= CACHE_MAX_PAYLOAD && !gzdirect(f->f) && idx_cache_key(f, want, &name, &key);
  bool hit = cacheable && cache_load_data(&name, &key, d->xb, want);
  if (hit) {
    have = want;
    f->pos += want;
  }
  while (have < want) {
    size_t chunk = want - have < ((size_t)1 << 24) ? want - have : (size_t)1 << 24;
    if (!reserve(&d->xb, &cap, have + chunk, 1, f->path, err, errlen)) return false;
    int got;
    if (!idx_read(f, d->xb + have, chunk, &got))
      return idx_short_read(f, (int)((have + (got > 0 ? (size_t)got : 0)) / width), got, total, err, errlen);
    have += chunk;
  }
  if (cacheable && !hit && idx_settled(f)) cache_store_data(&name, &key, d->xb, want);
  if (n > 0 && cap > want) d->xb = xrealloc(d->xb, want);   /* drop the slack */
  for (int b = 0; b < 256; b++) d->byte_value[b] = (float)(b * scale);
  d->byte_divisor = byterow_divisor(scale, d->byte_value);
  if (fits_float(255 * scale)) return true;
  for (size_t k = 0; k < want; k++)   /* name the first byte that overflows */
    if (!fits_float(d->xb[k] * scale))
      return errorf(err, errlen, "%s: item %zu, element %zu is %g after scaling, beyond float range (magnitude at most %g)",
                    f->path, k / width, k % width, d->xb[k] * scale, FLT_MAX);
  return true;
}

/* Reads n items of f->per_item elements each, as floats times scale, into a
 * growing *out (which the caller frees, also on failure). */
static bool idx_items(IdxFile *f, int n, double scale, float **out, char *err, size_t errlen) {
  size_t width = (size_t)f->per_item, isize = width * (size_t)f->type->size;
  uint64_t header = 4 + 4 * (uint64_t)f->rank;
  uint64_t total = header + (uint64_t)f->dim[0] * isize;
  uint8_t *raw = xmalloc(isize);
  size_t cap = 0;
  bool ok = true;
  for (int i = 0; i < n && ok; i++) {
    int got;
    if (!idx_read(f, raw, isize, &got)) {
      ok = idx_short_read(f, i, got, total, err, errlen);
      break;
    }
    if (!reserve(out, &cap, (size_t)(i + 1) * width, sizeof(float), f->path, err, errlen)) {
      ok = false;
      break;
    }
    float *row = *out + (size_t)i * width;
    for (size_t k = 0; k < width; k++) {
      double v = idx_value(raw + k * (size_t)f->type->size, f->type->code);
      if (!isfinite(v)) {
        ok = errorf(err, errlen, "%s: item %d, element %zu is %g (values must be finite)", f->path, i,
                  k, v);
        break;
      }
      if (!fits_float(v * scale)) {
        ok = errorf(err, errlen, "%s: item %d, element %zu is %g%s, beyond float range (magnitude at most %g)",
                    f->path, i, k, v * scale, scale != 1 ? " after scaling" : "", FLT_MAX);
        break;
      }
      row[k] = (float)(v * scale);
    }
  }
  if (ok && n > 0) *out = xrealloc(*out, (size_t)n * width * sizeof(float));   /* drop the slack */
  free(raw);
  return ok;
}

/* A path that names an existing file, or one whose .gz exists, is the images
 * file itself (idx("dir/train-images-idx3-ubyte[.gz]")), not a prefix; its
 * labels file is the same name with labels-idx1 for images-idx3.  *images is
 * heap or NULL (a prefix); *labels is heap or NULL (no such name: labels =
 * "..." must say it). */
static void idx_files(const DataSpec *spec, char **images, char **labels) {
  *images = spec->images ? xstrdup(spec->images) : NULL;
  *labels = spec->labels ? xstrdup(spec->labels) : NULL;
  if (*images || !spec->path) return;
  if (access(spec->path, F_OK) == 0) {
    *images = xstrdup(spec->path);
  } else {
    size_t n = strlen(spec->path);
    char *gz = xmalloc(n + 4);
    snprintf(gz, n + 4, "%s.gz", spec->path);
    const char *base = strrchr(spec->path, '/');
    bool named = strstr(base ? base : spec->path, "images-idx3") != NULL;
    if (named && access(gz, F_OK) == 0) *images = gz;
    else free(gz);
    if (named && !*images) *images = xstrdup(spec->path);   /* a file's name, not a prefix: say it is missing */
    if (!*images) return;
  }
  const char *base = strrchr(*images, '/'), *at = strstr(base ? base : *images, "images-idx3");
  if (*labels || !at) return;
  *labels = xstrdup(*images);
  memcpy(*labels + (at - *images), "labels-idx1", 11);
}

/* Without targets (nclasses == 0 && ntarget == 0) only the images file is
 * opened: prediction data need not have labels. */
static bool load_idx(const DataSpec *spec, int nfeat, int nclasses, int ntarget, int max_samples,
                     Dataset *d, char *err, size_t errlen) {
  IdxFile img, lab = {0};
  char s1[128], s2[128];
  float *tv = NULL;
  bool labelled = nclasses > 0 || ntarget > 0;
  char *images, *labels;
  idx_files(spec, &images, &labels);
  if (labelled && images && !spec->images && !labels) {
    free(images);
    const char *base = strrchr(spec->path, '/');
    if (strstr(base ? base : spec->path, "labels-idx1"))
      return errorf(err, errlen, "%s: is a labels file; name the images file (its images-idx3 twin) or the files' "
                    "common prefix, or give both with idx(images = \"...\", labels = \"...\")", spec->path);
    return errorf(err, errlen, "%s: is an images file whose name does not say where its labels are; "
                  "give them with idx(images = \"...\", labels = \"...\")", spec->path);
  }
  bool opened = idx_open_file(&img, images, spec->path, "images-idx3-ubyte", err, errlen);
  img.cache = spec->cache;
  free(images);
  if (!opened) {
    free(labels);
    return false;
  }
  bool ok = idx_header(&img, err, errlen);
  if (ok && img.per_item != nfeat)
    ok = errorf(err, errlen, "%s: shape %s gives %s = %s%lld features per sample, but the model's input has %d",
              img.path, idx_shape(&img, 0, s1, sizeof s1), idx_shape(&img, 1, s2, sizeof s2),
              img.per_item > INT_MAX ? "more than " : "", (long long)(img.per_item > INT_MAX ? INT_MAX : img.per_item),
              nfeat);
  if (ok && labelled && !idx_open_file(&lab, labels, spec->path, "labels-idx1-ubyte", err, errlen)) ok = false;
  free(labels);
  int width = nclasses > 0 ? 1 : ntarget;
  if (ok && labelled) ok = idx_header(&lab, err, errlen);
  if (ok && labelled && lab.per_item != width)
    ok = errorf(err, errlen, "%s: shape %s gives %lld values per sample, but the model's target takes %d%s",
              lab.path, idx_shape(&lab, 0, s1, sizeof s1), (long long)lab.per_item, width,
              nclasses > 0 ? " (a class label)" : "");
  if (ok && labelled && lab.dim[0] != img.dim[0])
    ok = errorf(err, errlen, "%s: %u labels, but %s has %u images", lab.path, lab.dim[0], img.path,
              img.dim[0]);
  int n = idx_taken(&img, max_samples);
  d->source = xstrdup(img.path);
  d->nfeat = nfeat;
  d->nclasses = nclasses;
  d->ntarget = nclasses > 0 ? nclasses : ntarget;
  if (ok && img.type->code == 0x08)
    ok = idx_bytes(&img, n, spec->scale, d, err, errlen);
  else if (ok)
    ok = idx_items(&img, n, spec->scale, &d->x, err, errlen);
  if (ok && labelled) ok = idx_items(&lab, n, 1.0, &tv, err, errlen);
  if (ok && nclasses > 0) {
    d->labels = xmalloc(sizeof(int) * (size_t)n);
    size_t ybytes = sizeof(float) * (size_t)n * (size_t)nclasses;
    /* in huge pages: 60,000 one-hot rows of 10 took 7 ms in 4 KiB pages */
    if (!(d->y = big_alloc(ybytes, 64))) out_of_memory((double)ybytes);
    char msg[96];
    for (int i = 0; i < n && ok; i++) {
      if (label_ok(tv[i], nclasses, msg, sizeof msg))
        set_class(d, i, (int)tv[i]);
      else
        ok = errorf(err, errlen, "%s: %s at item %d", lab.path, msg, i);
    }
  } else if (ok) {
    d->y = tv;
    tv = NULL;
  }
  free(tv);
  idx_close(&img);
  idx_close(&lab);
  d->n = n;
  return ok;
}

/* How many samples load_idx would read, from the images file's header
 * alone; -1 where that is not known so (the load says why). */
static int idx_count(const DataSpec *spec, int max_samples) {
  char *images, *labels;
  idx_files(spec, &images, &labels);
  free(labels);
  IdxFile f;
  char err[512];
  bool ok = idx_open_file(&f, images, spec->path, "images-idx3-ubyte", err, sizeof err);
  free(images);
  if (!ok) return -1;
  ok = idx_header(&f, err, sizeof err);
  int n = ok ? idx_taken(&f, max_samples) : -1;
  /* a header is believed only as far as the file could hold it */
  uint64_t item_bytes = (uint64_t)f.per_item * (ok ? f.type->size : 1), most = idx_most_left(&f);
  if (n > 0 && (item_bytes == 0 || most == UINT64_MAX || (uint64_t)n > most / item_bytes)) n = -1;
  idx_close(&f);
  return n;
}

/* ---- CSV ----
 * One sample per line, numbers separated by commas; blank lines are skipped;
 * the label or target columns come last (or first with target_first). */

/* Line and column (1-based) of byte `at` of text. */
static void line_col(const char *text, size_t at, int *line, int *col) {
  *line = 1;
  size_t bol = 0;
  for (size_t i = 0; i < at; i++)
    if (text[i] == '\n') {
      ++*line;
      bol = i + 1;
    }
  *col = (int)(at - bol) + 1;
}

/* The whole (possibly gzipped) file as a heap buffer.  A NUL byte stops it:
 * CSV is text, and a binary file (or /dev/zero) is named as such at once. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    errorf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 0, n = 0;
  char *buf = NULL;
  bool ok = true;
  for (;;) {
    if (!(ok = reserve(&buf, &cap, n + 65536, 1, path, err, errlen))) break;
    int r = gzread(f, buf + n, 65536);
    if (r < 0) {
      ok = errorf(err, errlen, "%s: read error: %s", path, gz_reason(f, path));
      break;
    }
    if (r == 0) {   /* the end, or a gzip stream cut short: not the whole file */
      int code = Z_OK;
      gzerror(f, &code);
      if (code == Z_BUF_ERROR)
        ok = errorf(err, errlen, "%s: truncated: the compressed data ends early (after %zu bytes)", path, n);
      break;
    }
    const char *nul = memchr(buf + n, 0, (size_t)r);
    if (nul) {
      int line, col;
      line_col(buf, (size_t)(nul - buf), &line, &col);
      ok = errorf(err, errlen, "%s:%d:%d: a NUL byte; a CSV file is text (is this a binary file?)", path, line, col);
      break;
    }
    n += (size_t)r;
  }
  gzclose(f);
  if (!ok) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

typedef struct {
  const char *path;   /* for messages */
  int line;           /* 1-based line number of the current row */
  const char *bol;    /* start of the current line, for column numbers */
  bool first;         /* the first row of training data: maybe column names no one announced */
} CsvPos;

/* Parses the field [s, e) as a number that fits a float; *col gets the
 * 1-based column where the number starts (blanks around it are skipped). */
static bool csv_number(const CsvPos *at, const char *s, const char *e, double *v, int *col,
                       char *err, size_t errlen) {
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
  *col = (int)(s - at->bol) + 1;
  if (s == e) return errorf(err, errlen, "%s:%d:%d: empty field", at->path, at->line, *col);
  char buf[64];
  size_t len = (size_t)(e - s);
  int shown = len > 40 ? 40 : (int)len;
  char *end = buf;
  if (len < sizeof buf) {
    memcpy(buf, s, len);
    buf[len] = '\0';
    *v = strtod(buf, &end);
  }
  if (len >= sizeof buf || end != buf + len)
    return errorf(err, errlen, "%s:%d:%d: not a number: '%.*s'%s", at->path, at->line, *col, shown, s,
                  at->first ? "; if this row holds column names, add header = true to csv(...)" : "");
  if (!isfinite(*v))
    return errorf(err, errlen, "%s:%d:%d: '%.*s' is not a finite number (fill in missing values before training)",
                  at->path, at->line, *col, shown, s);
  if (!fits_float(*v))
    return errorf(err, errlen, "%s:%d:%d: %.*s is beyond float range (magnitude at most %g)", at->path, at->line,
                  *col, shown, s, FLT_MAX);
  return true;
}

/* How many fields of the line [s, e) read as numbers; *nfields gets the
 * field count.  No numbers: a row of column names. */
static int csv_numeric_fields(const char *s, const char *e, int *nfields) {
  int numeric = 0;
  *nfields = 0;
  while (s <= e) {
    const char *f = memchr(s, ',', (size_t)(e - s));
    if (!f) f = e;
    ++*nfields;
    while (s < f && (*s == ' ' || *s == '\t')) s++;
    char buf[64], *end;
    size_t len = (size_t)(f - s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len > 0 && len < sizeof buf) {
      memcpy(buf, s, len);
      buf[len] = '\0';
      double v = strtod(buf, &end);
      numeric += end == buf + len && isfinite(v);
    }
    s = f + 1;
  }
  return numeric;
}

/* One CSV load: what a row holds and the buffers it goes to. */
typedef struct {
  const DataSpec *spec;   /* the source */
  Dataset *d;             /* being filled */
  bool labelled;          /* rows carry targets the model takes */
  int label_cols;         /* features only: target columns a labelled file has (skipped) */
  int tcols;              /* target columns per row */
  int ncols;              /* columns per row; 0 until the first data row decides (features only) */
  size_t xcap, ycap, lcap;   /* capacities of d's buffers, in elements */
} CsvLoad;

/* Checks the column count of a row (the first data row of a features-only
 * load decides whether it carries targets). */
static bool csv_columns(CsvLoad *L, const CsvPos *at, int cols, char *err, size_t errlen) {
  int nfeat = L->d->nfeat, nclasses = L->d->nclasses;
  if (!L->ncols) {
    int lc = L->label_cols;
    if (cols != nfeat && (lc == 0 || cols != nfeat + lc)) {
      if (lc > 0)
        return errorf(err, errlen, "%s:%d: %d column%s, expected %d (the features) or %d (%d features + %d %s)",
                      at->path, at->line, cols, cols == 1 ? "" : "s", nfeat, nfeat + lc, nfeat, lc,
                      lc == 1 ? "target" : "targets");
      return errorf(err, errlen, "%s:%d: %d column%s, expected %d (the features)", at->path, at->line, cols,
                    cols == 1 ? "" : "s", nfeat);
    }
    L->tcols = cols - nfeat;
    L->ncols = cols;
  }
  if (cols == L->ncols) return true;
  if (!L->labelled)
    return errorf(err, errlen, "%s:%d: %d column%s, expected %d like the first data row", at->path, at->line, cols,
                  cols == 1 ? "" : "s", L->ncols);
  char hint[160] = "";
  if (nclasses > 0 && cols == nfeat + nclasses)
    snprintf(hint, sizeof hint, "; for one-hot labels in %d columns, declare the target as [%d] instead of class(%d)",
             nclasses, nclasses, nclasses);
  return errorf(err, errlen, "%s:%d: %d column%s, expected %d (%d features + %d %s)%s", at->path, at->line, cols,
                cols == 1 ? "" : "s", L->ncols, nfeat, L->tcols, nclasses > 0 ? "label" : L->tcols == 1 ? "target" : "targets", hint);
}

/* Parses the data row [at->bol, lend) into sample d->n. */
static bool csv_row(CsvLoad *L, const CsvPos *at, const char *lend, char *err, size_t errlen) {
  Dataset *d = L->d;
  int nfeat = d->nfeat, i = d->n;
  if (!reserve(&d->x, &L->xcap, (size_t)(i + 1) * (size_t)nfeat, sizeof(float), at->path, err, errlen) ||
      (L->labelled &&
       !reserve(&d->y, &L->ycap, (size_t)(i + 1) * (size_t)d->ntarget, sizeof(float), at->path, err, errlen)) ||
      (d->nclasses > 0 && !reserve(&d->labels, &L->lcap, (size_t)i + 1, sizeof(int), at->path, err, errlen)))
    return false;
  int tfirst = L->spec->target_first ? 0 : nfeat;    /* column of the first target */
  const char *s = at->bol;
  for (int c = 0; c < L->ncols; c++) {
    const char *e = memchr(s, ',', (size_t)(lend - s));
    if (!e) e = lend;
    double v = 0;
    int col;
    if (!csv_number(at, s, e, &v, &col, err, errlen)) return false;
    int t = c - tfirst;   /* index among the target columns when in 0..tcols) */
    if (t >= 0 && t < L->tcols) {
      char msg[96];
      if (d->nclasses > 0 && !label_ok(v, d->nclasses, msg, sizeof msg))
        return errorf(err, errlen, "%s:%d:%d: %s", at->path, at->line, col, msg);
      if (d->nclasses > 0) set_class(d, i, (int)v);
      else if (L->labelled) d->y[(size_t)i * (size_t)d->ntarget + (size_t)t] = (float)v;
    } else {
      int k = c < tfirst ? c : c - L->tcols;
      double x = v * L->spec->scale;
      if (!fits_float(x))
        return errorf(err, errlen, "%s:%d:%d: %g after scaling is beyond float range", at->path, at->line, col, x);
      d->x[(size_t)i * (size_t)nfeat + (size_t)k] = (float)x;
    }
    s = e + 1;
  }
  d->n++;
  return true;
}

/* With targets, every row has nfeat + target columns.  Without (nclasses ==
 * 0 && ntarget == 0), a row holds the nfeat features alone or, in a labelled
 * file, also label_cols target columns that are skipped; the first data row
 * decides which.  A first row without any number is a header and skipped
 * unless header = true already skips the first row; header = true over a
 * row of numbers skips it too, with a warning, as numbers can be names. */
static bool load_csv(const DataSpec *spec, int nfeat, int nclasses, int ntarget, int label_cols,
                     int max_samples, Dataset *d, char *err, size_t errlen) {
  size_t len;
  char *text = slurp(spec->path, &len, err, errlen);
  if (!text) return false;
  bool labelled = nclasses > 0 || ntarget > 0;
  d->source = xstrdup(spec->path);
  d->nfeat = nfeat;
  d->nclasses = nclasses;
  d->ntarget = nclasses > 0 ? nclasses : ntarget;
  CsvLoad L = {.spec = spec, .d = d, .labelled = labelled, .label_cols = label_cols,
               .tcols = nclasses > 0 ? 1 : ntarget, .ncols = labelled ? nfeat + (nclasses > 0 ? 1 : ntarget) : 0};
  bool ok = true, skip_header = labelled && spec->header, first = true;
  static const char bom[] = "\xEF\xBB\xBF";   /* a UTF-8 byte order mark, as some editors write */
  const char *p = len >= 3 && memcmp(text, bom, 3) == 0 ? text + 3 : text, *end = text + len;
  CsvPos at = {spec->path, 0, p, false};
  while (ok && p < end && d->n < max_samples) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    at.line++;
    at.bol = p;
    const char *lend = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    const char *q = p;
    p = eol + 1;
    while (q < lend && (*q == ' ' || *q == '\t')) q++;
    if (q == lend) continue;
    int cols, numeric = csv_numeric_fields(at.bol, lend, &cols);
    bool first_row = first;
    first = false;
    at.first = first_row && labelled;   /* prediction data ignores header =, so no hint to set it */
    if (first_row && (skip_header || numeric == 0)) {
      if (skip_header && numeric == cols)
        fprintf(stderr, "nnc: warning: %s:%d: header = true skips this row of numbers; if it is data, remove header = true\n",
                at.path, at.line);
      continue;
    }
    ok = csv_columns(&L, &at, cols, err, errlen) && csv_row(&L, &at, lend, err, errlen);
  }
  if (ok && d->n == 0)
    ok = errorf(err, errlen, len == 0 ? "%s: empty file" : "%s: no data rows", spec->path);
  free(text);
  return ok;
}

/* ---- sources that name what feeds each input and target ---- */

static const DataBind *bind_of(const DataSpec *spec, const char *name) {
  for (int i = 0; i < spec->nbinds; i++)
    if (strcmp(spec->binds[i].name, name) == 0) return &spec->binds[i];
  return NULL;
}

static const char *column_kind(const DataColumn *c) { return c->target ? "target" : "input"; }

/* Values per sample in the file or columns feeding c (a class label is one). */
static int column_values(const DataColumn *c) { return c->nclasses > 0 ? 1 : c->width; }

/* The Dataset's shape: the x and y rows the columns make up. */
static void columns_shape(Dataset *d, const DataColumn *cols, int ncols, bool features_only, const char *source) {
  d->source = xstrdup(source);
  d->cols = xmalloc(sizeof(DataColumn) * (size_t)(ncols ? ncols : 1));
  for (int i = 0; i < ncols; i++) {
    if (features_only && cols[i].target) continue;
    d->cols[d->ncols++] = cols[i];
    if (cols[i].target) d->ntarget += cols[i].width;
    else d->nfeat += cols[i].width;
  }
}

/* Sample i's value k of column c: a label, checked and set one-hot, or a number. */
static bool put_value(Dataset *d, const DataColumn *c, int i, int k, double v, char *msg, size_t len) {
  if (c->nclasses > 0) {
    if (!label_ok(v, c->nclasses, msg, len)) return false;
    float *row = d->y + (size_t)i * (size_t)d->ntarget + c->offset;
    for (int j = 0; j < c->width; j++) row[j] = 0.0f;
    row[(int)v] = 1.0f;
  } else if (c->target) {
    d->y[(size_t)i * (size_t)d->ntarget + (size_t)(c->offset + k)] = (float)v;
  } else {
    d->x[(size_t)i * (size_t)d->nfeat + (size_t)(c->offset + k)] = (float)v;
  }
  return true;
}

/* With one class target, labels as data_load keeps them (accuracy, --show). */
static void single_labels(Dataset *d) {
  const DataColumn *t = NULL;
  for (int i = 0; i < d->ncols; i++)
    if (d->cols[i].target) {
      if (t) return;
      t = &d->cols[i];
    }
  if (!t || t->nclasses == 0 || d->ntarget != t->width) return;
  d->nclasses = t->nclasses;
  d->labels = xmalloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
  for (int i = 0; i < d->n; i++) {
    const float *row = d->y + (size_t)i * (size_t)d->ntarget;
    int k = 0;
    while (k < d->ntarget - 1 && row[k] != 1.0f) k++;
    d->labels[i] = k;
  }
}

/* Opens the IDX file that feeds column c and checks its shape. */
static bool idx_column_open(const DataSpec *spec, const DataColumn *c, IdxFile *f, char *err, size_t errlen) {
  const DataBind *b = bind_of(spec, c->name);
  if (!b || !b->file) return errorf(err, errlen, "%s:%d: idx(...) names no file for %s '%s'",
                                    spec->loc.file ? spec->loc.file : "model", spec->loc.line, column_kind(c), c->name);
  if (!idx_open_file(f, b->file, NULL, "", err, errlen) || !idx_header(f, err, errlen)) return false;
  f->cache = spec->cache;
  char s1[128], s2[128];
  if (f->per_item != column_values(c))
    return errorf(err, errlen, "%s: shape %s gives %s = %lld value%s per sample, but %s '%s' takes %d%s", f->path,
                  idx_shape(f, 0, s1, sizeof s1), idx_shape(f, 1, s2, sizeof s2), (long long)f->per_item,
                  f->per_item == 1 ? "" : "s", column_kind(c), c->name, column_values(c),
                  c->nclasses > 0 ? " (a class label)" : "");
  return true;
}

/* Copies the values read for column c (bytes through their table, or
 * floats) into d's rows. */
static bool idx_column_put(Dataset *d, const DataColumn *c, const IdxFile *f, const Dataset *bytes, const float *v,
                           char *err, size_t errlen) {
  int w = column_values(c);
  char msg[96];
  for (int i = 0; i < d->n; i++)
    for (int k = 0; k < w; k++) {
      size_t at = (size_t)i * (size_t)w + (size_t)k;
      if (!c->target && d->xb) d->xb[(size_t)i * (size_t)d->nfeat + (size_t)(c->offset + k)] = bytes->xb[at];
      else if (!put_value(d, c, i, k, bytes->xb ? bytes->byte_value[bytes->xb[at]] : v[at], msg, sizeof msg))
        return errorf(err, errlen, "%s: %s at item %d", f->path, msg, i);
    }
  return true;
}

/* One IDX file per input and target, all with the same number of items.
 * When every input's file holds unsigned bytes, x stays bytes. */
static bool load_idx_columns(const DataSpec *spec, int max_samples, Dataset *d, char *err, size_t errlen) {
  int nc = d->ncols;
  IdxFile *f = xcalloc((size_t)nc, sizeof(IdxFile));
  Dataset *bytes = xcalloc((size_t)nc, sizeof(Dataset));
  float **v = xcalloc((size_t)nc, sizeof(float *));
  bool ok = true, all_bytes = true;
  for (int c = 0; c < nc && ok; c++) {
    ok = idx_column_open(spec, &d->cols[c], &f[c], err, errlen);
    if (ok && c > 0 && f[c].dim[0] != f[0].dim[0])
      ok = errorf(err, errlen, "%s: %u items, but %s has %u", f[c].path, f[c].dim[0], f[0].path, f[0].dim[0]);
  }
  d->n = ok ? idx_taken(&f[0], max_samples) : 0;
  for (int c = 0; c < nc && ok; c++) {
    bool in = !d->cols[c].target, byte = in && f[c].type->code == 0x08;
    all_bytes &= !in || byte;
    ok = byte ? idx_bytes(&f[c], d->n, spec->scale, &bytes[c], err, errlen)
              : idx_items(&f[c], d->n, in ? spec->scale : 1.0, &v[c], err, errlen);
  }
  if (ok) {
    size_t n = (size_t)(d->n ? d->n : 1);
    if (all_bytes) d->xb = xcalloc(n * (size_t)d->nfeat + 1, 1);
    else d->x = xcalloc(n * (size_t)d->nfeat + 1, sizeof(float));
    d->y = d->ntarget ? xcalloc(n * (size_t)d->ntarget, sizeof(float)) : NULL;
    for (int c = 0; c < nc && ok; c++) {
      if (all_bytes && !d->cols[c].target) {
        memcpy(d->byte_value, bytes[c].byte_value, sizeof d->byte_value);
        d->byte_divisor = bytes[c].byte_divisor;
      }
      ok = idx_column_put(d, &d->cols[c], &f[c], &bytes[c], v[c], err, errlen);
    }
  }
  for (int c = 0; c < nc; c++) {
    idx_close(&f[c]);
    data_free(&bytes[c]);
    free(v[c]);
  }
  free(f);
  free(bytes);
  free(v);
  return ok;
}

/* One CSV row cut into fields: [start[k], end[k]). */
typedef struct {
  int n, cap;
  const char **start, **end;
} CsvFields;

static void csv_split(CsvFields *r, const char *s, const char *e) {
  r->n = 0;
  for (;;) {
    const char *f = memchr(s, ',', (size_t)(e - s));
    if (r->n == r->cap) {
      r->cap = r->cap ? 2 * r->cap : 64;
      r->start = xrealloc(r->start, sizeof(char *) * (size_t)r->cap);
      r->end = xrealloc(r->end, sizeof(char *) * (size_t)r->cap);
    }
    r->start[r->n] = s;
    r->end[r->n++] = f ? f : e;
    if (!f) return;
    s = f + 1;
  }
}

/* Position of the column called name in the header row, or -1. */
static int csv_find(const CsvFields *h, const char *name) {
  size_t len = strlen(name);
  for (int k = 0; k < h->n; k++) {
    const char *s = h->start[k], *e = h->end[k];
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if ((size_t)(e - s) == len && memcmp(s, name, len) == 0) return k;
  }
  return -1;
}

/* The file columns feeding column c, in order, into map (column_values(c)
 * entries), from its binding and the header row h (NULL: none). */
static bool csv_column_map(const DataSpec *spec, const DataColumn *c, const CsvFields *h, int *map, char *err,
                           size_t errlen) {
  const DataBind *b = bind_of(spec, c->name);
  const char *p = spec->path;
  if (!b) return errorf(err, errlen, "%s: csv(...) names no columns for %s '%s'", p, column_kind(c), c->name);
  if ((b->cols || b->from) && !h)
    return errorf(err, errlen, "%s: %s '%s' takes columns by name, but the file has no header row of names", p,
                  column_kind(c), c->name);
  int want = column_values(c), first = b->first, last = b->last;
  for (int k = 0; b->cols && k < b->ncols; k++)
    if ((map[k] = csv_find(h, b->cols[k])) < 0)
      return errorf(err, errlen, "%s:1: no column named '%s' (for %s '%s')", p, b->cols[k], column_kind(c), c->name);
  if (b->cols) return true;   /* the count was checked with the model */
  if (b->from) {
    first = csv_find(h, b->from);
    last = csv_find(h, b->to);
    const char *missing = first < 0 ? b->from : last < 0 ? b->to : NULL;
    if (missing) return errorf(err, errlen, "%s:1: no column named '%s' (for %s '%s')", p, missing, column_kind(c), c->name);
    if (last - first + 1 != want)
      return errorf(err, errlen, "%s: columns(\"%s\", \"%s\") are %d column%s, but %s '%s' takes %d", p, b->from, b->to,
                    last - first + 1 > 0 ? last - first + 1 : 0, last - first == 0 ? "" : "s", column_kind(c),
                    c->name, want);
  }
  for (int k = 0; k < want; k++) map[k] = first + k;
  return true;
}

/* Parses row r (line at) into sample d->n through the column maps. */
static bool csv_bound_row(Dataset *d, const CsvPos *at, const CsvFields *r, int *const *map, double scale, char *err,
                          size_t errlen) {
  for (int c = 0; c < d->ncols; c++) {
    const DataColumn *col = &d->cols[c];
    for (int k = 0; k < column_values(col); k++) {
      int f = map[c][k], cn;
      double v;
      if (!csv_number(at, r->start[f], r->end[f], &v, &cn, err, errlen)) return false;
      if (!col->target) v *= scale;
      char msg[96];
      if (!fits_float(v)) return errorf(err, errlen, "%s:%d:%d: %g after scaling is beyond float range", at->path, at->line, cn, v);
      if (!put_value(d, col, d->n, k, v, msg, sizeof msg)) return errorf(err, errlen, "%s:%d:%d: %s", at->path, at->line, cn, msg);
    }
  }
  d->n++;
  return true;
}

/* The first row: names (header = true, or no field a number) or data.
 * Maps every column and checks its indices against the row's width. */
static bool csv_first_row(const DataSpec *spec, Dataset *d, const CsvPos *at, const char *lend, CsvFields *r,
                          CsvFields *h, int **map, bool *header, char *err, size_t errlen) {
  int cols, numeric = csv_numeric_fields(at->bol, lend, &cols);
  *header = spec->header || numeric == 0;
  if (spec->header && numeric == cols)
    fprintf(stderr, "nnc: warning: %s:%d: header = true skips this row of numbers; if it is data, remove header = true\n",
            at->path, at->line);
  if (*header) {
    CsvFields t = *h;
    *h = *r;
    *r = t;
  }
  for (int c = 0; c < d->ncols; c++) {
    const DataColumn *col = &d->cols[c];
    if (!csv_column_map(spec, col, *header ? h : NULL, map[c], err, errlen)) return false;
    for (int k = 0; k < column_values(col); k++)
      if (map[c][k] >= cols)
        return errorf(err, errlen, "%s:%d: %d column%s, but %s '%s' takes column %d (columns count from 0)", at->path,
                      at->line, cols, cols == 1 ? "" : "s", column_kind(col), col->name, map[c][k]);
  }
  return true;
}

/* Rows of any number of columns; each input and target takes the columns
 * its binding names (by name from the header row, or by index). */
static bool load_csv_columns(const DataSpec *spec, int max_samples, Dataset *d, char *err, size_t errlen) {
  size_t len, xcap = 0, ycap = 0;
  char *text = slurp(spec->path, &len, err, errlen);
  if (!text) return false;
  CsvFields r = {0}, h = {0};
  int **map = xcalloc((size_t)d->ncols + 1, sizeof(int *)), width = -1;
  for (int c = 0; c < d->ncols; c++) map[c] = xmalloc(sizeof(int) * (size_t)column_values(&d->cols[c]));
  static const char bom[] = "\xEF\xBB\xBF";
  const char *p = len >= 3 && memcmp(text, bom, 3) == 0 ? text + 3 : text, *end = text + len;
  CsvPos at = {spec->path, 0, p, false};
  bool ok = true;
  while (ok && p < end && d->n < max_samples) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    at.line++;
    at.bol = p;
    const char *lend = eol > p && eol[-1] == '\r' ? eol - 1 : eol, *q = p;
    p = eol + 1;
    while (q < lend && (*q == ' ' || *q == '\t')) q++;
    if (q == lend) continue;
    csv_split(&r, at.bol, lend);
    if (width < 0) {
      bool header;
      width = r.n;
      ok = csv_first_row(spec, d, &at, lend, &r, &h, map, &header, err, errlen);
      if (header || !ok) continue;
    }
    if (r.n != width)
      ok = errorf(err, errlen, "%s:%d: %d column%s, expected %d like the first row", at.path, at.line, r.n,
                  r.n == 1 ? "" : "s", width);
    ok = ok && reserve(&d->x, &xcap, (size_t)(d->n + 1) * (size_t)d->nfeat + 1, sizeof(float), at.path, err, errlen) &&
         reserve(&d->y, &ycap, (size_t)(d->n + 1) * (size_t)d->ntarget + 1, sizeof(float), at.path, err, errlen) &&
         csv_bound_row(d, &at, &r, map, spec->scale, err, errlen);
  }
  if (ok && d->n == 0) ok = errorf(err, errlen, len == 0 ? "%s: empty file" : "%s: no data rows", spec->path);
  for (int c = 0; c < d->ncols; c++) free(map[c]);
  free(map);
  free(r.start);
  free(r.end);
  free(h.start);
  free(h.end);
  free(text);
  return ok;
}

bool data_load_columns(const DataSpec *spec, const DataColumn *cols, int ncols, bool features_only, int max_samples,
                       Dataset *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *source = spec->path && spec->path[0] ? spec->path : spec->nbinds ? spec->binds[0].file : "data";
  columns_shape(out, cols, ncols, features_only, source ? source : "data");
  bool ok = spec->format == DATA_IDX ? load_idx_columns(spec, max_samples, out, err, errlen)
                                     : load_csv_columns(spec, max_samples, out, err, errlen);
  if (ok) single_labels(out);
  else data_free(out);
  return ok;
}

const DataColumn *data_column(const Dataset *d, const char *name) {
  for (int i = 0; i < d->ncols; i++)
    if (strcmp(d->cols[i].name, name) == 0) return &d->cols[i];
  return NULL;
}

/* Asks for the cache lines of bytes at p.  A batch's samples are rows
 * scattered over a data set much larger than the caches, each arriving at
 * memory latency unless asked for early: with the row two samples ahead
 * prefetched, the gather's share of `perf record nnc train
 * examples/fashion_mlp.nn --epochs 3 --threads 1` fell from 8.9% to 6.7%
 * (AMD Zen 5; a stand-alone loop of the same gather went from ~42 to ~23 us
 * a batch). */
static void prefetch(const void *p, size_t bytes) {
  enum { LINE = 64 };
  for (size_t o = 0; o < bytes; o += LINE) __builtin_prefetch((const char *)p + o);
}

enum { PREFETCH_AHEAD = 2 };   /* samples */

void data_gather_column(const Dataset *d, const DataColumn *c, const int *idx, int n, float *buf) {
  size_t w = (size_t)c->width, row = (size_t)(c->target ? d->ntarget : d->nfeat);
  size_t elem = c->target || !d->xb ? sizeof(float) : 1;
  const char *base = c->target ? (const char *)d->y : d->xb ? (const char *)d->xb : (const char *)d->x;
  for (int i = 0; i < n; i++) {
    assert(idx[i] >= 0 && idx[i] < d->n);
    if (i + PREFETCH_AHEAD < n) prefetch(base + ((size_t)idx[i + PREFETCH_AHEAD] * row + (size_t)c->offset) * elem, w * elem);
    size_t at = (size_t)idx[i] * row + (size_t)c->offset;
    float *dst = buf + (size_t)i * w;
    if (c->target) memcpy(dst, d->y + at, w * sizeof(float));
    else if (d->xb) byterow_convert(d->xb + at, w, d->byte_value, d->byte_divisor, dst);
    else memcpy(dst, d->x + at, w * sizeof(float));
  }
}

/* ---- public entry points ---- */

/* The one loader behind the entry points; nclasses == 0 && ntarget == 0 asks
 * for the features alone (label_cols: a labelled CSV's target columns). */
static bool load(const DataSpec *spec, int nfeat, int nclasses, int ntarget, int label_cols, int max_samples,
                 Dataset *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  bool ok;
  switch (spec->format) {
  case DATA_IDX: ok = load_idx(spec, nfeat, nclasses, ntarget, max_samples, out, err, errlen); break;
  case DATA_CSV:
    ok = load_csv(spec, nfeat, nclasses, ntarget, label_cols, max_samples, out, err, errlen);
    break;
  default: die("data_load: no data format given");
  }
  if (!ok) data_free(out);
  return ok;
}

bool data_load_first(const DataSpec *spec, int nfeat, int nclasses, int ntarget, int max_samples,
                     Dataset *out, char *err, size_t errlen) {
  assert(nfeat > 0 && max_samples > 0);
  return load(spec, nfeat, nclasses, ntarget, 0, max_samples, out, err, errlen);
}

bool data_load(const DataSpec *spec, int nfeat, int nclasses, int ntarget, Dataset *out,
               char *err, size_t errlen) {
  return data_load_first(spec, nfeat, nclasses, ntarget, INT_MAX, out, err, errlen);
}

bool data_load_features(const DataSpec *spec, int nfeat, int label_cols, Dataset *out, char *err,
                        size_t errlen) {
  assert(nfeat > 0 && label_cols >= 0);
  if (!load(spec, nfeat, 0, 0, label_cols, INT_MAX, out, err, errlen)) return false;
  data_expand(out);   /* predictions are few; pictures read the floats */
  return true;
}

int data_count(const DataSpec *spec, int max_samples) {
  return spec->format == DATA_IDX && !spec->nbinds ? idx_count(spec, max_samples) : -1;
}

void data_free(Dataset *d) {
  free(d->source);
  free(d->x);
  free(d->xb);
  free(d->y);
  free(d->labels);
  free(d->cols);
  memset(d, 0, sizeof *d);
}

void data_expand(Dataset *d) {
  if (!d->xb) return;
  size_t count = (size_t)d->n * (size_t)d->nfeat;
  d->x = big_alloc(sizeof(float) * count, sizeof(float));
  if (!d->x) out_of_memory((double)sizeof(float) * (double)count);
  byterow_convert(d->xb, count, d->byte_value, d->byte_divisor, d->x);
  free(d->xb);
  d->xb = NULL;
}

static float feature(const Dataset *d, int i, int k) {
  size_t at = (size_t)i * (size_t)d->nfeat + (size_t)k;
  return d->xb ? d->byte_value[d->xb[at]] : d->x[at];
}

/* Two passes in double: the mean first, then squared deviations from it,
 * which stays accurate where the one-pass formula cancels catastrophically. */
void data_norm_fit(const Dataset *d, DataNorm *norm) {
  assert(d->n >= 1);
  int nf = d->nfeat;
  double *sum = xcalloc((size_t)nf, sizeof(double));
  double *sq = xcalloc((size_t)nf, sizeof(double));
  for (int i = 0; i < d->n; i++)
    for (int k = 0; k < nf; k++) sum[k] += feature(d, i, k);
  for (int k = 0; k < nf; k++) sum[k] /= d->n;
  for (int i = 0; i < d->n; i++)
    for (int k = 0; k < nf; k++) {
      double dev = feature(d, i, k) - sum[k];
      sq[k] += dev * dev;
    }
  norm->nfeat = nf;
  norm->mean = xmalloc(sizeof(float) * (size_t)nf);
  norm->std = xmalloc(sizeof(float) * (size_t)nf);
  for (int k = 0; k < nf; k++) {
    norm->mean[k] = (float)sum[k];
    norm->std[k] = (float)sqrt(sq[k] / d->n);
  }
  free(sum);
  free(sq);
}

bool data_norm_from_ckpt(const Checkpoint *c, int nfeat, DataNorm *norm) {
  memset(norm, 0, sizeof *norm);
  const CkptTensor *mean = ckpt_find(c, DATA_NORM_MEAN_TENSOR), *std = ckpt_find(c, DATA_NORM_STD_TENSOR);
  if (!mean || !std || shape_numel(mean->shape) != nfeat || shape_numel(std->shape) != nfeat) return false;
  norm->nfeat = nfeat;
  norm->mean = xmalloc(sizeof(float) * (size_t)nfeat);
  norm->std = xmalloc(sizeof(float) * (size_t)nfeat);
  memcpy(norm->mean, mean->data, sizeof(float) * (size_t)nfeat);
  memcpy(norm->std, std->data, sizeof(float) * (size_t)nfeat);
  return true;
}

void data_norm_apply(const DataNorm *norm, Dataset *d) {
  assert(norm->nfeat == d->nfeat);
  data_expand(d);
  for (int i = 0; i < d->n; i++) {
    float *row = d->x + (size_t)i * (size_t)d->nfeat;
    for (int k = 0; k < d->nfeat; k++) {
      row[k] -= norm->mean[k];
      if (norm->std[k] > 0) row[k] /= norm->std[k];
    }
  }
}

void data_norm_free(DataNorm *norm) {
  free(norm->mean);
  free(norm->std);
  memset(norm, 0, sizeof *norm);
}

/* Copies the samples with take[i] == want, in order, from src into dst's
 * buffers starting at sample 0.  dst may be src: samples only move down. */
static int compact(const Dataset *src, const bool *take, bool want, Dataset *dst) {
  size_t fx = (size_t)src->nfeat * (src->xb ? 1 : sizeof(float)), fy = (size_t)src->ntarget;
  const char *sx = src->xb ? (const char *)src->xb : (const char *)src->x;
  char *dx = dst->xb ? (char *)dst->xb : (char *)dst->x;
  int j = 0;
  for (int i = 0; i < src->n; i++) {
    if (take[i] != want) continue;
    memmove(dx + (size_t)j * fx, sx + (size_t)i * fx, fx);
    memmove(dst->y + (size_t)j * fy, src->y + (size_t)i * fy, fy * sizeof(float));
    if (src->labels) dst->labels[j] = src->labels[i];
    j++;
  }
  return j;
}

int data_split_count(int n, double fraction) { return (int)lround(fraction * n); }

bool data_split(Dataset *d, double fraction, uint64_t seed, Dataset *val, char *err,
                size_t errlen) {
  memset(val, 0, sizeof *val);
  int nval = data_split_count(d->n, fraction);
  if (nval < 1 || nval >= d->n)
    return errorf(err, errlen, "%s: validation_split %g of %d samples leaves %s", d->source, fraction,
                d->n, nval < 1 ? "no validation samples" : "no training samples");
  int *perm = xmalloc(sizeof(int) * (size_t)d->n);
  bool *is_val = xcalloc((size_t)d->n, sizeof(bool));
  for (int i = 0; i < d->n; i++) perm[i] = i;
  Rng rng;
  rng_seed(&rng, seed);
  rng_shuffle(&rng, perm, d->n);
  for (int i = 0; i < nval; i++) is_val[perm[i]] = true;
  *val = *d;
  val->source = xstrdup(d->source);
  val->n = nval;
  size_t xsize = d->xb ? 1 : sizeof(float);
  void *vx = xmalloc(xsize * (size_t)nval * (size_t)d->nfeat);
  val->x = d->xb ? NULL : vx;
  val->xb = d->xb ? vx : NULL;
  val->y = xmalloc(sizeof(float) * (size_t)nval * (size_t)d->ntarget);
  val->labels = d->labels ? xmalloc(sizeof(int) * (size_t)nval) : NULL;
  if (d->cols) {
    val->cols = xmalloc(sizeof(DataColumn) * (size_t)d->ncols);
    memcpy(val->cols, d->cols, sizeof(DataColumn) * (size_t)d->ncols);
  }
  compact(d, is_val, true, val);
  d->n = compact(d, is_val, false, d);
  if (d->xb)
    d->xb = xrealloc(d->xb, (size_t)d->n * (size_t)d->nfeat);
  else
    d->x = xrealloc(d->x, sizeof(float) * (size_t)d->n * (size_t)d->nfeat);
  d->y = xrealloc(d->y, sizeof(float) * (size_t)d->n * (size_t)d->ntarget);
  if (d->labels) d->labels = xrealloc(d->labels, sizeof(int) * (size_t)d->n);
  free(perm);
  free(is_val);
  return true;
}

void data_prefetch(const Dataset *d, const int *idx, int n) {
  size_t fx = (size_t)d->nfeat, fy = (size_t)d->ntarget;
  for (int i = 0; i < n; i++) {
    if (d->xb) prefetch(d->xb + (size_t)idx[i] * fx, fx);
    else if (d->x) prefetch(d->x + (size_t)idx[i] * fx, fx * sizeof(float));
    if (d->y) prefetch(d->y + (size_t)idx[i] * fy, fy * sizeof(float));
  }
}

void data_gather(const Dataset *d, const int *idx, int n, float *x, float *y) {
  size_t fx = (size_t)d->nfeat, fy = (size_t)d->ntarget;
  for (int i = 0; i < n; i++) {
    assert(idx[i] >= 0 && idx[i] < d->n);
    if (x && i + PREFETCH_AHEAD < n) {
      size_t ahead = (size_t)idx[i + PREFETCH_AHEAD] * fx;
      if (d->xb) prefetch(d->xb + ahead, fx);
      else prefetch(d->x + ahead, fx * sizeof(float));
    }
    if (x && d->xb) {
      byterow_convert(d->xb + (size_t)idx[i] * fx, fx, d->byte_value, d->byte_divisor, x + (size_t)i * fx);
    } else if (x) {
      memcpy(x + (size_t)i * fx, d->x + (size_t)idx[i] * fx, fx * sizeof(float));
    }
    if (y && d->y) memcpy(y + (size_t)i * fy, d->y + (size_t)idx[i] * fy, fy * sizeof(float));
  }
}
