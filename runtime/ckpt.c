/* ckpt: writing and validating checkpoint files (layout: docs/checkpoint.md).
 *
 * The file is built in memory in little-endian order whatever the host, then
 * replaced whole by outfile_write (a synced temporary renamed over the
 * target).  Reading loads the whole file and checks, in order: magic,
 * version, the size recorded in the header against the real size (so
 * truncation is named as such), the CRC-32 (any other damage), then the
 * structure itself with every length and offset bounds-checked (a file with a
 * valid CRC can still be hand-made), then the layout against the model's.
 * Version 2 is written; version 1 (tensor data inline, no schedule) is read.
 */
#define _POSIX_C_SOURCE 200809L
#include "ckpt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "outfile.h"
#include "util.h"

static const char MAGIC[4] = {'N', 'N', 'C', 'K'};

enum {
  OFF_SIZE = 8,     /* offset of the u64 file size, after magic and version */
  OFF_HASH = 16,    /* offset of the layout hash, where the CRC-only fields start */
  /* magic, version, size, hash, epoch, step, best loss, bad epochs, rng */
  COMMON_HEADER = 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8 + 32,
  /* version 2 adds the schedule (4 x 8), the epoch under way (2 x 8) and the count of its sums */
  V2_HEADER = COMMON_HEADER + 4 * 8 + 2 * 8 + 4,
  MIN_FILE = COMMON_HEADER + 4 + 2 + 4,   /* + tensor count, empty model name, CRC: smallest version 1 file */
  DATA_ALIGN = 64,  /* version 2: the data block and every tensor in it start at multiples of 64 bytes */
};

/* "[784,256]" without ir.c, so the runtime does not need the IR builder. */
static char *dims_str(Shape s, char *buf, size_t len) {
  size_t at = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < s.ndim && at < len; i++)
    at += (size_t)snprintf(buf + at, len - at, i ? ",%d" : "%d", s.dim[i]);
  if (at < len) snprintf(buf + at, len - at, "]");
  return buf;
}

static bool same_shape(Shape a, Shape b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; i++)
    if (a.dim[i] != b.dim[i]) return false;
  return true;
}

/* zlib's crc32 takes a uInt length; feed big buffers in pieces. */
static uint32_t crc_of(const uint8_t *p, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t at = 0; at < n;) {
    size_t piece = n - at < (1u << 30) ? n - at : (1u << 30);
    crc = crc32(crc, p + at, (uInt)piece);
    at += piece;
  }
  return (uint32_t)crc;
}

static const char *kind_name(CkptKind k) { return k == CKPT_PARAM ? "param" : "state"; }

/* ---- layout hash ---- */

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
  return h;
}

/* Each tensor hashes alone (FNV-1a over name, NUL, kind, ndim, dims as
 * int32), and the mixed hashes are summed, so order does not matter. */
uint64_t ckpt_layout_hash(const CkptTensor *t, int n) {
  uint64_t sum = 0;
  for (int i = 0; i < n; i++) {
    uint64_t h = fnv1a(0xCBF29CE484222325ull, t[i].name, strlen(t[i].name) + 1);
    int32_t head[2] = {(int32_t)t[i].kind, t[i].shape.ndim};
    h = fnv1a(h, head, sizeof head);
    for (int k = 0; k < t[i].shape.ndim; k++) {
      int32_t d = t[i].shape.dim[k];
      h = fnv1a(h, &d, sizeof d);
    }
    sum += mix64(h);
  }
  return mix64(sum ^ (uint64_t)n);
}

/* ---- encoding ---- */

typedef struct {
  uint8_t *p;     /* bytes so far (heap) */
  size_t len;     /* bytes in use */
  size_t cap;     /* bytes allocated */
} Buf;

static void reserve(Buf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  while (b->len + more > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
  b->p = xrealloc(b->p, b->cap);
}

static void put(Buf *b, uint64_t v, int nbytes) {
  reserve(b, (size_t)nbytes);
  for (int i = 0; i < nbytes; i++) b->p[b->len++] = (uint8_t)(v >> (8 * i));
}

static void put_bytes(Buf *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static uint64_t f64_bits(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static size_t align_up(size_t n) { return (n + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN; }

/* Floats as their little-endian bit patterns: a block copy on a
 * little-endian host. */
static void put_floats(Buf *b, const float *v, int64_t n) {
  static const uint32_t one = 1;
  if (*(const uint8_t *)&one == 1) {
    put_bytes(b, (const char *)v, sizeof(float) * (size_t)n);
    return;
  }
  for (int64_t k = 0; k < n; k++) {
    uint32_t u;
    memcpy(&u, &v[k], sizeof u);
    put(b, u, 4);
  }
}

static void put_header(Buf *b, const char *model, const CkptPosition *pos, const CkptTensor *t, int n) {
  put_bytes(b, MAGIC, 4);
  put(b, CKPT_VERSION, 4);
  put(b, 0, 8);   /* size, patched at the end */
  put(b, ckpt_layout_hash(t, n), 8);
  put(b, (uint64_t)pos->epoch, 8);
  put(b, (uint64_t)pos->step, 8);
  put(b, f64_bits(pos->best_val_loss), 8);
  put(b, (uint64_t)pos->bad_epochs, 8);
  for (int i = 0; i < 4; i++) put(b, pos->rng.s[i], 8);
  put(b, f64_bits(pos->base_lr), 8);
  put(b, f64_bits(pos->lr_scale), 8);
  put(b, f64_bits(pos->plateau_best), 8);
  put(b, (uint64_t)pos->plateau_bad, 8);
  put(b, (uint64_t)pos->epoch_batch, 8);
  put(b, (uint64_t)pos->epoch_steps, 8);
  if (pos->nsums < 0 || pos->nsums > CKPT_MAX_SUMS) die("ckpt: %d metric sums", pos->nsums);
  put(b, (uint64_t)pos->nsums, 4);
  for (int i = 0; i < pos->nsums; i++) put(b, f64_bits(pos->sums[i]), 8);
  put(b, (uint64_t)n, 4);
  size_t mlen = strlen(model);
  if (mlen > UINT16_MAX) die("ckpt: model name of %zu bytes", mlen);
  put(b, mlen, 2);
  put_bytes(b, model, mlen);
}

/* Version 2: the header, a table of (name, kind, shape, offset), then the
 * data block at the next multiple of 64 bytes with every tensor at a
 * multiple of 64 from its start, zeros between. */
static void encode(Buf *b, const char *model, const CkptPosition *pos, const CkptTensor *t, int n) {
  put_header(b, model, pos, t, n);
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(t[i].name);
    if (len == 0 || len > UINT16_MAX) die("ckpt: tensor name of %zu bytes", len);
    put(b, len, 2);
    put_bytes(b, t[i].name, len);
    put(b, t[i].kind, 1);
    put(b, (uint64_t)t[i].shape.ndim, 1);
    for (int k = 0; k < t[i].shape.ndim; k++) put(b, (uint32_t)t[i].shape.dim[k], 4);
    put(b, off, 8);
    off += align_up(sizeof(float) * (size_t)shape_numel(t[i].shape));
  }
  for (size_t pad = align_up(b->len) - b->len; pad > 0; pad--) put(b, 0, 1);
  size_t data = b->len;
  for (int i = 0; i < n; i++) {
    put_floats(b, t[i].data, shape_numel(t[i].shape));
    for (size_t pad = align_up(b->len - data) - (b->len - data); pad > 0; pad--) put(b, 0, 1);
  }
  uint64_t size = b->len + 4;
  for (int i = 0; i < 8; i++) b->p[OFF_SIZE + i] = (uint8_t)(size >> (8 * i));
  put(b, crc_of(b->p, b->len), 4);
}

/* ---- writing ---- */

bool ckpt_write(const char *path, const char *model, const CkptPosition *pos,
                const CkptTensor *t, int n, char *err, size_t errlen) {
  Buf b = {0};
  encode(&b, model, pos, t, n);
  bool ok = outfile_write(path, b.p, b.len, err, errlen);
  free(b.p);
  return ok;
}

/* ---- reading ---- */

typedef struct {
  const uint8_t *p;   /* file contents */
  size_t end;         /* bytes that may be read (the CRC excluded) */
  size_t at;          /* read position */
} Cursor;

/* Whether n more bytes can be read. */
static bool has(const Cursor *c, uint64_t n) { return n <= c->end - c->at; }

static uint64_t get(Cursor *c, int nbytes) {
  uint64_t v = 0;
  for (int i = 0; i < nbytes; i++) v |= (uint64_t)c->p[c->at + (size_t)i] << (8 * i);
  c->at += (size_t)nbytes;
  return v;
}

static uint64_t le(const uint8_t *p, int nbytes) {
  Cursor c = {p, (size_t)nbytes, 0};
  return get(&c, nbytes);
}

/* What is wrong with a name of n bytes, or NULL: names are shown in messages
 * and written back by ckpt_write, so no NUL and no control characters. */
static const char *bad_name_byte(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == 0) return "a NUL byte";
    if (p[i] < 0x20 || p[i] == 0x7f) return "a control character";
  }
  return NULL;
}

/* The training position in the header, against the ranges a run can reach:
 * every finished epoch took at least one step, early stopping counts
 * finished epochs, and the generator's state is never all zero. */
static bool check_position(const CkptPosition *pos, const char *path, char *err, size_t errlen) {
  const int64_t max_step = INT64_C(1) << 62;
  if (pos->epoch < 0 || pos->epoch > INT_MAX)
    return errorf(err, errlen, "%s: corrupt: epoch %lld is out of range (0 to %d)", path, (long long)pos->epoch,
                  INT_MAX);
  if (pos->step < pos->epoch || pos->step > max_step)
    return errorf(err, errlen, "%s: corrupt: step %lld is out of range (%lld to %lld after %lld epochs)", path,
                  (long long)pos->step, (long long)pos->epoch, (long long)max_step, (long long)pos->epoch);
  if (pos->bad_epochs < 0 || pos->bad_epochs > pos->epoch)
    return errorf(err, errlen, "%s: corrupt: %lld epochs without improvement is out of range (0 to %lld)", path,
                  (long long)pos->bad_epochs, (long long)pos->epoch);
  if (isnan(pos->best_val_loss))
    return errorf(err, errlen, "%s: corrupt: the best validation loss is NaN", path);
  if (!(pos->rng.s[0] | pos->rng.s[1] | pos->rng.s[2] | pos->rng.s[3]))
    return errorf(err, errlen, "%s: corrupt: the random generator state is all zero", path);
  return true;
}

/* The version 2 fields of the position: the schedule and the epoch under
 * way (checked against the run when it resumes, ckpt_resume_epoch). */
static bool check_schedule(const CkptPosition *pos, const char *path, char *err, size_t errlen) {
  if (!(pos->base_lr >= 0 && isfinite(pos->base_lr)))
    return errorf(err, errlen, "%s: corrupt: the base learning rate is %g", path, pos->base_lr);
  if (!(pos->lr_scale > 0 && pos->lr_scale <= 1))
    return errorf(err, errlen, "%s: corrupt: the learning-rate scale is %g (expected 0 < scale <= 1)", path,
                  pos->lr_scale);
  if (isnan(pos->plateau_best))
    return errorf(err, errlen, "%s: corrupt: the best loss of reduce_on_plateau is NaN", path);
  if (pos->plateau_bad < 0 || pos->plateau_bad > pos->epoch)
    return errorf(err, errlen, "%s: corrupt: reduce_on_plateau's %lld epochs without improvement is out of range "
                  "(0 to %lld)", path, (long long)pos->plateau_bad, (long long)pos->epoch);
  if (pos->epoch_batch < 0 || pos->epoch_batch > INT_MAX || pos->epoch_steps < 0 || pos->epoch_steps > INT_MAX)
    return errorf(err, errlen, "%s: corrupt: the epoch under way has batch %lld and %lld steps", path,
                  (long long)pos->epoch_batch, (long long)pos->epoch_steps);
  return true;
}

/* A tensor record's name, kind and shape (both versions); *count gets its
 * element count, which must fit in `room` floats. */
static bool parse_record(Cursor *c, int i, CkptTensor *t, uint64_t *count, const char *path, char *err,
                         size_t errlen) {
  if (!has(c, 2)) return errorf(err, errlen, "%s: corrupt: tensor %d starts past the end", path, i);
  size_t len = get(c, 2);
  if (len == 0) return errorf(err, errlen, "%s: corrupt: tensor %d has an empty name", path, i);
  if (!has(c, len + 2)) return errorf(err, errlen, "%s: corrupt: tensor %d header runs past the end", path, i);
  const char *bad = bad_name_byte(c->p + c->at, len);
  if (bad) return errorf(err, errlen, "%s: corrupt: the name of tensor %d has %s", path, i, bad);
  char *name = xmalloc(len + 1);
  memcpy(name, c->p + c->at, len);
  name[len] = '\0';
  t->name = name;
  c->at += len;
  int kind = (int)get(c, 1), ndim = (int)get(c, 1);
  if (kind != CKPT_PARAM && kind != CKPT_STATE)
    return errorf(err, errlen, "%s: corrupt: tensor '%s' has kind %d", path, name, kind);
  if (ndim > IR_MAX_DIMS)
    return errorf(err, errlen, "%s: corrupt: tensor '%s' has %d dimensions (at most %d)", path, name, ndim,
                  IR_MAX_DIMS);
  t->kind = (CkptKind)kind;
  t->shape.ndim = ndim;
  if (!has(c, 4 * (uint64_t)ndim))
    return errorf(err, errlen, "%s: corrupt: tensor '%s' dimensions run past the end", path, name);
  /* count stays below the bytes left, so it cannot overflow */
  uint64_t n = 1, room = (c->end - c->at - 4 * (uint64_t)ndim) / 4;
  bool big = false;
  for (int k = 0; k < ndim; k++) {
    uint64_t d = get(c, 4);
    if (d > INT_MAX)
      return errorf(err, errlen, "%s: corrupt: tensor '%s' dimension %d is %llu", path, name, k,
                    (unsigned long long)d);
    if (d == 0)   /* no model has an empty axis, and shape_numel would overflow on the others */
      return errorf(err, errlen, "%s: corrupt: tensor '%s' dimension %d is 0", path, name, k);
    t->shape.dim[k] = (int)d;
    if (n > room / d) big = true;
    else n *= d;
  }
  if (big) return errorf(err, errlen, "%s: corrupt: tensor '%s' data runs past the end", path, name);
  *count = n;
  return true;
}

static void get_floats(const uint8_t *p, uint64_t count, float *out) {
  for (uint64_t k = 0; k < count; k++) {
    uint32_t u = (uint32_t)le(p + 4 * k, 4);
    memcpy(&out[k], &u, sizeof u);
  }
}

static bool check_unique(const Checkpoint *out, int i, const char *path, char *err, size_t errlen) {
  for (int j = 0; j < i; j++)
    if (strcmp(out->tensors[j].name, out->tensors[i].name) == 0)
      return errorf(err, errlen, "%s: corrupt: tensor '%s' appears twice", path, out->tensors[i].name);
  return true;
}

/* Version 1: each record followed by its data. */
static bool parse_tensors_v1(Cursor *c, Checkpoint *out, const char *path, char *err, size_t errlen) {
  for (int i = 0; i < out->ntensors; i++) {
    CkptTensor *t = &out->tensors[i];
    uint64_t count;
    if (!parse_record(c, i, t, &count, path, err, errlen)) return false;
    if (!has(c, 4 * count)) return errorf(err, errlen, "%s: corrupt: tensor '%s' data runs past the end", path, t->name);
    t->data = xmalloc(4 * (size_t)count);
    get_floats(c->p + c->at, count, t->data);
    c->at += 4 * count;
    if (!check_unique(out, i, path, err, errlen)) return false;
  }
  if (c->at != c->end)
    return errorf(err, errlen, "%s: corrupt: %zu unused bytes after the last tensor", path, c->end - c->at);
  return true;
}

typedef struct {
  uint64_t off, bytes;   /* a tensor's place in the data block */
  int index;             /* which tensor */
} Span;

static int by_offset(const void *a, const void *b) {
  const Span *x = a, *y = b;
  return (x->off > y->off) - (x->off < y->off);
}

/* Version 2: the table, then every tensor's data at its offset in the block
 * that starts at the next multiple of 64 bytes; no two may overlap. */
static bool parse_tensors_v2(Cursor *c, Checkpoint *out, const char *path, char *err, size_t errlen) {
  Span *sp = xcalloc((size_t)out->ntensors + 1, sizeof(Span));
  bool ok = true;
  for (int i = 0; ok && i < out->ntensors; i++) {
    ok = parse_record(c, i, &out->tensors[i], &sp[i].bytes, path, err, errlen);
    if (ok && !has(c, 8)) ok = errorf(err, errlen, "%s: corrupt: tensor '%s' offset runs past the end", path, out->tensors[i].name);
    if (ok) sp[i] = (Span){get(c, 8), 4 * sp[i].bytes, i};
    ok = ok && check_unique(out, i, path, err, errlen);
  }
  size_t start = align_up(c->at), used = 0;
  if (ok && start > c->end) ok = errorf(err, errlen, "%s: corrupt: the data block starts past the end", path);
  qsort(sp, (size_t)out->ntensors, sizeof(Span), by_offset);
  for (int k = 0; ok && k < out->ntensors; k++) {
    CkptTensor *t = &out->tensors[sp[k].index];
    if (sp[k].off % DATA_ALIGN)
      ok = errorf(err, errlen, "%s: corrupt: tensor '%s' data offset %llu is not a multiple of %d", path, t->name,
                  (unsigned long long)sp[k].off, DATA_ALIGN);
    else if (sp[k].off > c->end - start || sp[k].bytes > c->end - start - sp[k].off)
      ok = errorf(err, errlen, "%s: corrupt: tensor '%s' data (offset %llu, %llu bytes) is not inside the data block",
                  path, t->name, (unsigned long long)sp[k].off, (unsigned long long)sp[k].bytes);
    else if (sp[k].off < used)
      ok = errorf(err, errlen, "%s: corrupt: tensor '%s' data overlaps another tensor's", path, t->name);
    if (!ok) break;
    t->data = xmalloc((size_t)sp[k].bytes + 4);
    get_floats(c->p + start + sp[k].off, sp[k].bytes / 4, t->data);
    used = align_up(sp[k].off + sp[k].bytes);
  }
  if (ok && start + used != c->end)
    ok = errorf(err, errlen, "%s: corrupt: %zu unused bytes after the last tensor", path, c->end - start - used);
  free(sp);
  return ok;
}

/* The first difference between the file's tensors and the model's. */
static bool check_layout(const Checkpoint *c, const CkptTensor *expect, int n, const char *path,
                         char *err, size_t errlen) {
  char b1[96], b2[96];
  for (int i = 0; i < n; i++) {
    const CkptTensor *t = ckpt_find(c, expect[i].name);
    if (!t)
      return errorf(err, errlen, "%s: model mismatch: the checkpoint (model '%s') has no tensor '%s'",
                  path, c->model, expect[i].name);
    if (t->kind != expect[i].kind)
      return errorf(err, errlen, "%s: model mismatch: tensor '%s' is a %s in the checkpoint, a %s in the model",
                  path, t->name, kind_name(t->kind), kind_name(expect[i].kind));
    if (!same_shape(t->shape, expect[i].shape))
      return errorf(err, errlen,
                  "%s: model mismatch: tensor '%s' has shape %s in the checkpoint, the model expects %s",
                  path, t->name, dims_str(t->shape, b1, sizeof b1),
                  dims_str(expect[i].shape, b2, sizeof b2));
  }
  for (int i = 0; i < c->ntensors; i++) {
    bool known = false;
    for (int j = 0; j < n && !known; j++) known = strcmp(expect[j].name, c->tensors[i].name) == 0;
    if (!known)
      return errorf(err, errlen, "%s: model mismatch: the checkpoint (model '%s') has tensor '%s', which the model does not",
                  path, c->model, c->tensors[i].name);
  }
  return true;
}

/* Magic, version, size and CRC; *version gets the version. */
static bool check_envelope(const uint8_t *p, size_t len, const char *path, uint32_t *version, char *err,
                           size_t errlen) {
  if (len == 0) return errorf(err, errlen, "%s: empty file", path);
  if (memcmp(p, MAGIC, len < 4 ? len : 4) != 0) {
    char got[16] = "";
    for (size_t i = 0; i < 4 && i < len; i++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%02x", i ? " " : "", p[i]);
    return errorf(err, errlen, "%s: not an nnc checkpoint (starts with %s, expected \"NNCK\")", path, got);
  }
  if (len < 8) return errorf(err, errlen, "%s: truncated: %zu bytes", path, len);
  *version = (uint32_t)le(p + 4, 4);
  if (*version != 1 && *version != CKPT_VERSION)
    return errorf(err, errlen, "%s: unsupported checkpoint version %u (this nnc reads versions 1 and %d)", path,
                  *version, CKPT_VERSION);
  if (len < OFF_SIZE + 8) return errorf(err, errlen, "%s: truncated: %zu bytes", path, len);
  uint64_t size = le(p + OFF_SIZE, 8);
  if (size < (uint64_t)(*version == 1 ? MIN_FILE : V2_HEADER + 4 + 2 + 4))
    return errorf(err, errlen, "%s: corrupt: the header gives a size of %llu bytes", path, (unsigned long long)size);
  if (len < size)
    return errorf(err, errlen, "%s: truncated: %zu bytes, the header says %llu", path, len, (unsigned long long)size);
  if (len > size)
    return errorf(err, errlen, "%s: %zu bytes, but the header says %llu (trailing data)", path, len,
                  (unsigned long long)size);
  uint32_t stored = (uint32_t)le(p + len - 4, 4), crc = crc_of(p, len - 4);
  if (stored != crc)
    return errorf(err, errlen, "%s: checksum mismatch (stored %08x, computed %08x): the file is damaged", path,
                  stored, crc);
  return true;
}

static double get_f64(Cursor *c) {
  uint64_t bits = get(c, 8);
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

/* The position fields; version 1 has no schedule and keeps the epoch under
 * way in a tensor. */
static bool parse_position(Cursor *c, uint32_t version, CkptPosition *pos, const char *path, char *err,
                           size_t errlen) {
  pos->epoch = (int64_t)get(c, 8);
  pos->step = (int64_t)get(c, 8);
  pos->best_val_loss = get_f64(c);
  pos->bad_epochs = (int64_t)get(c, 8);
  for (int i = 0; i < 4; i++) pos->rng.s[i] = get(c, 8);
  if (!check_position(pos, path, err, errlen)) return false;
  if (version == 1) {
    pos->lr_scale = 1;
    pos->plateau_best = INFINITY;
    return true;
  }
  pos->base_lr = get_f64(c);
  pos->lr_scale = get_f64(c);
  pos->plateau_best = get_f64(c);
  pos->plateau_bad = (int64_t)get(c, 8);
  pos->epoch_batch = (int64_t)get(c, 8);
  pos->epoch_steps = (int64_t)get(c, 8);
  uint64_t nsums = get(c, 4);
  if (nsums > CKPT_MAX_SUMS || !has(c, 8 * nsums))
    return errorf(err, errlen, "%s: corrupt: %llu metric sums (at most %d)", path, (unsigned long long)nsums,
                  CKPT_MAX_SUMS);
  pos->nsums = (int)nsums;
  for (int i = 0; i < pos->nsums; i++) pos->sums[i] = get_f64(c);
  if (!has(c, 4)) return errorf(err, errlen, "%s: truncated header", path);
  return check_schedule(pos, path, err, errlen);
}

static bool decode(const uint8_t *p, size_t len, const char *path, Checkpoint *out, char *err,
                   size_t errlen) {
  if (!check_envelope(p, len, path, &out->version, err, errlen)) return false;
  Cursor c = {p, len - 4, OFF_HASH};
  out->layout_hash = get(&c, 8);
  if (!parse_position(&c, out->version, &out->pos, path, err, errlen)) return false;
  uint64_t ntensors = get(&c, 4);
  if (!has(&c, 2)) return errorf(err, errlen, "%s: corrupt: model name runs past the end", path);
  size_t mlen = get(&c, 2);
  if (!has(&c, mlen)) return errorf(err, errlen, "%s: corrupt: model name runs past the end", path);
  const char *bad = bad_name_byte(p + c.at, mlen);
  if (bad) return errorf(err, errlen, "%s: corrupt: the model name has %s", path, bad);
  out->model = xmalloc(mlen + 1);
  memcpy(out->model, p + c.at, mlen);
  out->model[mlen] = '\0';
  c.at += mlen;
  /* every tensor takes at least 5 bytes, which bounds the table's size */
  if (ntensors > (c.end - c.at) / 5 || ntensors > INT_MAX)
    return errorf(err, errlen, "%s: corrupt: %llu tensors cannot fit in the file", path,
                  (unsigned long long)ntensors);
  out->ntensors = (int)ntensors;
  out->tensors = xcalloc(ntensors, sizeof(CkptTensor));
  bool ok = out->version == 1 ? parse_tensors_v1(&c, out, path, err, errlen)
                              : parse_tensors_v2(&c, out, path, err, errlen);
  if (!ok) return false;
  if (ckpt_layout_hash(out->tensors, out->ntensors) != out->layout_hash)
    return errorf(err, errlen, "%s: corrupt: the layout hash does not match the tensors", path);
  return true;
}

bool ckpt_read(const char *path, const CkptTensor *expect, int nexpect, Checkpoint *out,
               char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  size_t len;
  char *text = read_file(path, &len);
  if (!text) return errorf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
  bool ok = decode((const uint8_t *)text, len, path, out, err, errlen);
  if (ok && expect) ok = check_layout(out, expect, nexpect, path, err, errlen);
  free(text);
  if (!ok) ckpt_free(out);
  return ok;
}

/* The run can continue an epoch stopped after `steps` steps of `batch`. */
static bool fits_run(const CkptRun *run, double batch, double steps, const char *path, char *err, size_t errlen) {
  if (batch != run->batch)
    return errorf(err, errlen, "%s: stopped in the middle of an epoch with batch %.0f; resume it with --batch %.0f",
                  path, batch, batch);
  if (steps >= run->steps_per_epoch)
    return errorf(err, errlen,
                  "%s: stopped after step %.0f of an epoch, but an epoch of this run takes %d step%s (resume with "
                  "the same data and --limit)",
                  path, steps, run->steps_per_epoch, run->steps_per_epoch == 1 ? "" : "s");
  return true;
}

static const char *const epoch_field[CKPT_EPOCH_FIELDS] = {"batch", "steps", "loss_hi", "loss_lo", "correct",
                                                            "samples"};

/* The train.epoch fields as numbers: all finite, the counts whole and in
 * range (the loss parts may be any finite value). */
static bool epoch_fields(const CkptTensor *t, const char *path, double v[CKPT_EPOCH_FIELDS], char *err,
                         size_t errlen) {
  char b[96];
  if (t->kind != CKPT_STATE || t->shape.ndim != 1 || t->shape.dim[0] != CKPT_EPOCH_FIELDS)
    return errorf(err, errlen, "%s: corrupt: tensor '%s' is a %s of shape %s (expected a state of shape [%d])",
                  path, t->name, kind_name(t->kind), dims_str(t->shape, b, sizeof b), CKPT_EPOCH_FIELDS);
  for (int k = 0; k < CKPT_EPOCH_FIELDS; k++) {
    v[k] = t->data[k];
    bool loss = k == CKPT_EPOCH_LOSS_HI || k == CKPT_EPOCH_LOSS_LO;
    if (loss && !isfinite(v[k]))
      return errorf(err, errlen, "%s: corrupt: tensor '%s' gives %s = %g (expected a finite number)", path,
                    t->name, epoch_field[k], v[k]);
    if (!loss && !(v[k] >= 0 && v[k] <= INT_MAX && v[k] == floor(v[k])))
      return errorf(err, errlen, "%s: corrupt: tensor '%s' gives %s = %g (expected a whole number from 0 to %d)",
                    path, t->name, epoch_field[k], v[k], INT_MAX);
  }
  return true;
}

/* Version 1: the tensor train.epoch. */
static bool resume_epoch_v1(const Checkpoint *c, const CkptRun *run, const char *path, CkptEpoch *out, char *err,
                            size_t errlen) {
  const CkptTensor *t = ckpt_find(c, CKPT_EPOCH_TENSOR);
  double v[CKPT_EPOCH_FIELDS];
  if (!t) return true;   /* written between epochs by a run that kept no progress */
  if (!epoch_fields(t, path, v, err, errlen)) return false;
  double steps = v[CKPT_EPOCH_STEPS], batch = v[CKPT_EPOCH_BATCH], n = v[CKPT_EPOCH_N];
  if (steps == 0) {   /* between epochs: nothing else may be set */
    for (int k = 0; k < CKPT_EPOCH_FIELDS; k++)
      if (v[k] != 0)
        return errorf(err, errlen, "%s: corrupt: tensor '%s' gives %s = %g with steps = 0", path, t->name,
                      epoch_field[k], v[k]);
    return true;
  }
  if (batch < 1)
    return errorf(err, errlen, "%s: corrupt: tensor '%s' gives batch = 0 with steps = %.0f", path, t->name, steps);
  if (!fits_run(run, batch, steps, path, err, errlen)) return false;
  if (n != (float)(steps * batch))   /* stored as a float, like the other fields */
    return errorf(err, errlen, "%s: corrupt: tensor '%s' gives samples = %.0f (steps x batch = %.0f)", path,
                  t->name, n, steps * batch);
  if (v[CKPT_EPOCH_CORRECT] > (run->ncorrect ? n : 0))
    return errorf(err, errlen, "%s: corrupt: tensor '%s' gives correct = %.0f of %.0f samples%s", path, t->name,
                  v[CKPT_EPOCH_CORRECT], n, run->ncorrect ? "" : " (the model has no classes)");
  if (run->ncorrect > 1)
    return errorf(err, errlen, "%s: a version 1 checkpoint stopped mid-epoch cannot resume a model with %d class "
                  "outputs", path, run->ncorrect);
  *out = (CkptEpoch){.steps = (int)steps, .nsums = 2 + run->ncorrect,
                     .sums = {v[CKPT_EPOCH_LOSS_HI] + v[CKPT_EPOCH_LOSS_LO], n, v[CKPT_EPOCH_CORRECT]}};
  return true;
}

/* Version 2: the header's epoch fields. */
static bool resume_epoch_v2(const CkptPosition *p, const CkptRun *run, const char *path, CkptEpoch *out, char *err,
                            size_t errlen) {
  if (p->epoch_steps == 0) {
    if (p->epoch_batch || p->nsums)
      return errorf(err, errlen, "%s: corrupt: the epoch under way has batch %lld and %d metric sums but no steps",
                    path, (long long)p->epoch_batch, p->nsums);
    return true;
  }
  if (p->epoch_batch < 1)
    return errorf(err, errlen, "%s: corrupt: the epoch under way has %lld steps of batch 0", path,
                  (long long)p->epoch_steps);
  if (!fits_run(run, (double)p->epoch_batch, (double)p->epoch_steps, path, err, errlen)) return false;
  if (p->nsums != 2 + run->ncorrect)
    return errorf(err, errlen, "%s: the epoch under way kept %d metric sums, this model keeps %d (is it a "
                  "checkpoint of this model?)", path, p->nsums, 2 + run->ncorrect);
  double n = (double)(p->epoch_steps * p->epoch_batch);
  for (int k = 0; k < p->nsums; k++) {
    double v = p->sums[k];
    bool count_ok = k == 0 ? isfinite(v) : k == 1 ? v == n : v >= 0 && v <= n && v == floor(v);
    if (!count_ok)
      return errorf(err, errlen, "%s: corrupt: metric sum %d of the epoch under way is %g%s", path, k, v,
                    k == 0 ? "" : k == 1 ? " (expected steps x batch)" : " (expected a count of its samples)");
  }
  out->steps = (int)p->epoch_steps;
  out->nsums = p->nsums;
  memcpy(out->sums, p->sums, sizeof(double) * (size_t)p->nsums);
  return true;
}

bool ckpt_resume_epoch(const Checkpoint *c, const CkptRun *run, const char *path, CkptEpoch *out, char *err,
                       size_t errlen) {
  *out = (CkptEpoch){0};
  return c->version == 1 ? resume_epoch_v1(c, run, path, out, err, errlen)
                         : resume_epoch_v2(&c->pos, run, path, out, err, errlen);
}

void ckpt_free(Checkpoint *c) {
  for (int i = 0; i < c->ntensors; i++) {
    free((char *)c->tensors[i].name);
    free(c->tensors[i].data);
  }
  free(c->tensors);
  free(c->model);
  memset(c, 0, sizeof *c);
}

const CkptTensor *ckpt_find(const Checkpoint *c, const char *name) {
  for (int i = 0; i < c->ntensors; i++)
    if (strcmp(c->tensors[i].name, name) == 0) return &c->tensors[i];
  return NULL;
}
