/* fuzz_ckpt: the checkpoint reader, and a round trip through ckpt_write.
 *
 * A file that reads must be what the reader promises: every tensor's
 * element count computable without overflow, names that are C strings, a
 * position in range; the interrupted epoch, read for a run derived from the
 * file, must fit that run when it is accepted.  Each input is read as it is
 * and again with its size and CRC made right (mutations would rarely get
 * past the checksum otherwise).  Then what reads is written back with
 * ckpt_write (which must accept everything the reader accepted) and read
 * again: the same tensors, bit for bit, and the same position.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt.h"
#include "fuzz.h"

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void check_read(const Checkpoint *c) {
  for (int i = 0; i < c->ntensors; i++) {
    const CkptTensor *t = &c->tensors[i];
    if (!t->name[0] || strlen(t->name) > 65535) fuzz_fail("a tensor name ckpt_write cannot write");
    int64_t n = 1;
    for (int k = 0; k < t->shape.ndim; k++) {
      if (t->shape.dim[k] < 1 || n > INT64_MAX / t->shape.dim[k]) fuzz_fail("a shape whose size overflows");
      n *= t->shape.dim[k];
    }
  }
  const CkptPosition *p = &c->pos;
  if (p->epoch < 0 || p->step < p->epoch || p->bad_epochs < 0 || isnan(p->best_val_loss))
    fuzz_fail("a position out of range");
}

/* The interrupted epoch for a run that could have written the file. */
static void check_resume(const Checkpoint *c) {
  int64_t batch = c->pos.epoch_batch > 0 && c->pos.epoch_batch < (1 << 20) ? c->pos.epoch_batch : 2;
  CkptRun run = {.batch = (int)batch, .steps_per_epoch = 1 + (int)(c->pos.step % 8),
                 .ncorrect = c->pos.nsums > 2 ? c->pos.nsums - 2 : 0};
  CkptEpoch at;
  char err[1024];
  if (!ckpt_resume_epoch(c, &run, "f", &at, err, sizeof err)) return;
  if (at.steps < 0 || at.steps >= run.steps_per_epoch) fuzz_fail("resumed past the end of an epoch");
  if (at.steps && at.nsums != 2 + run.ncorrect) fuzz_fail("resumed with the wrong metric sums");
  for (int k = 0; k < at.nsums; k++)
    if (!isfinite(at.sums[k])) fuzz_fail("resumed with a metric sum that is not finite");
}

static void check_same(const Checkpoint *a, const Checkpoint *b) {
  if (a->ntensors != b->ntensors || strcmp(a->model, b->model) != 0) fuzz_fail("round trip: other tensors");
  for (int i = 0; i < a->ntensors; i++) {
    const CkptTensor *x = &a->tensors[i], *y = ckpt_find(b, x->name);
    if (!y || x->kind != y->kind || !shape_eq(x->shape, y->shape) ||
        memcmp(x->data, y->data, sizeof(float) * (size_t)shape_numel(x->shape)) != 0)
      fuzz_fail("round trip: a tensor changed");
  }
  const CkptPosition *p = &a->pos, *q = &b->pos;
  bool same = p->epoch == q->epoch && p->step == q->step && same_bits(p->best_val_loss, q->best_val_loss) &&
              p->bad_epochs == q->bad_epochs && memcmp(&p->rng, &q->rng, sizeof p->rng) == 0 &&
              same_bits(p->base_lr, q->base_lr) && same_bits(p->lr_scale, q->lr_scale) &&
              same_bits(p->plateau_best, q->plateau_best) && p->plateau_bad == q->plateau_bad &&
              p->epoch_batch == q->epoch_batch && p->epoch_steps == q->epoch_steps && p->nsums == q->nsums;
  for (int k = 0; same && k < p->nsums; k++) same = same_bits(p->sums[k], q->sums[k]);
  if (!same) fuzz_fail("round trip: the position changed");
}

static void read_and_write_back(const uint8_t *data, size_t size) {
  const char *in = fuzz_path("in.ckpt"), *out = fuzz_path("out.ckpt");
  fuzz_write(in, data, size);
  Checkpoint c, again;
  char err[1024];
  if (!ckpt_read(in, NULL, 0, &c, err, sizeof err)) {
    if (strncmp(err, in, strlen(in)) != 0) fuzz_fail("a refusal that does not start with the file's name");
    return;
  }
  check_read(&c);
  check_resume(&c);
  if (!ckpt_write(out, c.model, &c.pos, c.tensors, c.ntensors, err, sizeof err)) fuzz_fail(err);
  if (!ckpt_read(out, NULL, 0, &again, err, sizeof err)) fuzz_fail(err);
  check_same(&c, &again);
  ckpt_free(&again);
  ckpt_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  read_and_write_back(data, size);
  /* again with the size and the CRC made right, so that mutations reach the
   * structure behind the checksum, as a hand-made file does */
  if (size < 24 || memcmp(data, "NNCK", 4) != 0) return 0;
  uint8_t *sealed = malloc(size);
  memcpy(sealed, data, size);
  for (int i = 0; i < 8; i++) sealed[8 + i] = (uint8_t)((uint64_t)size >> (8 * i));
  uint32_t crc = (uint32_t)crc32(0L, sealed, (uInt)(size - 4));
  for (int i = 0; i < 4; i++) sealed[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
  read_and_write_back(sealed, size);
  free(sealed);
  return 0;
}
