/* ckpt: training checkpoints on disk (the format is docs/checkpoint.md).
 *
 * A checkpoint holds what is needed to resume training bit-for-bit: the
 * model's PARAM and STATE tensors by name (a table of names, shapes and
 * offsets, then one 64-byte aligned data block), the training position
 * (epoch, step, early stopping, the learning-rate schedule, the epoch under
 * way) and the runtime Rng.  A layout hash over the tensors' names, kinds and
 * shapes identifies which model it belongs to.  Version 1 files (tensor data
 * inline after each record, no schedule) are still read.
 *
 * Writing is atomic (outfile.h: a synced temporary renamed over the target),
 * so a crash or a full disk leaves either the old file or the new one.
 * Reading validates everything (magic, version, size, CRC-32, structure,
 * layout against the model's) and refuses with a message "FILE: reason".
 */
#ifndef NNC_CKPT_H
#define NNC_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"
#include "rng.h"

enum {
  CKPT_VERSION = 2,      /* written; version 1 files are still read */
  CKPT_MAX_SUMS = 64,    /* metric sums of an interrupted epoch, at most */
};

typedef enum {
  CKPT_PARAM,     /* a trained parameter (PARAM leaf) */
  CKPT_STATE,     /* optimizer or layer state (STATE leaf: Adam moments, running means) */
} CkptKind;

typedef struct {
  const char *name;   /* leaf name, unique ("h1.w", "adam.m/h1.w") */
  CkptKind kind;      /* PARAM or STATE */
  Shape shape;        /* dimensions, row-major */
  float *data;        /* numel(shape) values */
} CkptTensor;

typedef struct {
  int64_t epoch;          /* epochs completed */
  int64_t step;           /* optimizer steps taken */
  double best_val_loss;   /* best validation loss so far (INFINITY if none yet) */
  int64_t bad_epochs;     /* epochs since best_val_loss last improved (early stopping) */
  Rng rng;                /* runtime generator state at the save point */
  /* the learning-rate schedule (version 2; a version 1 file reads as base_lr
   * 0, lr_scale 1, plateau_best INFINITY, plateau_bad 0) */
  double base_lr;         /* the run's base learning rate; 0: the model's */
  double lr_scale;        /* reduce_on_plateau's accumulated factor (1 otherwise) */
  double plateau_best;    /* reduce_on_plateau: best monitored loss so far (INFINITY if none yet) */
  int64_t plateau_bad;    /* its epochs without improvement */
  /* the epoch under way when the run stopped (all zero between epochs;
   * version 1 keeps it in the tensor CKPT_EPOCH_TENSOR instead) */
  int64_t epoch_batch;    /* its batch size */
  int64_t epoch_steps;    /* steps taken */
  int nsums;              /* its metric sums: */
  double sums[CKPT_MAX_SUMS];   /* [0] loss sum, [1] samples, [2..] correct predictions per class output */
} CkptPosition;

typedef struct {
  uint32_t version;       /* format version of the file read */
  char *model;            /* model name */
  uint64_t layout_hash;   /* ckpt_layout_hash of the tensors */
  CkptPosition pos;       /* where training stood */
  int ntensors;           /* entries in tensors */
  CkptTensor *tensors;    /* in file order; names and data owned by the Checkpoint */
} Checkpoint;

/* Version 1 kept the interrupted epoch as the state tensor "train.epoch" of
 * shape [CKPT_EPOCH_FIELDS] (all zero between epochs): the batch size, the
 * steps taken, the epoch's loss sum as two floats (hi + lo keeps double
 * precision), correct predictions and samples seen. */
enum { CKPT_EPOCH_BATCH, CKPT_EPOCH_STEPS, CKPT_EPOCH_LOSS_HI, CKPT_EPOCH_LOSS_LO, CKPT_EPOCH_CORRECT,
       CKPT_EPOCH_N, CKPT_EPOCH_FIELDS };
#define CKPT_EPOCH_TENSOR "train.epoch"

/* The run that resumes a checkpoint, which its position must fit. */
typedef struct {
  int batch;              /* batch size */
  int steps_per_epoch;    /* steps in one epoch */
  int ncorrect;           /* correct-prediction counts it keeps (one per class output) */
} CkptRun;

/* Progress of an interrupted epoch, checked (steps 0: start a new epoch). */
typedef struct {
  int steps;              /* steps already taken, 0 <= steps < steps_per_epoch */
  int nsums;              /* 2 + run.ncorrect (0 when steps is 0) */
  double sums[CKPT_MAX_SUMS];   /* loss sum, samples (steps * batch), correct counts */
} CkptEpoch;

/* Reads the interrupted epoch of c (read from path) for a run, refusing
 * fields that are not finite, counts that are not whole numbers in range, or
 * a position the run cannot continue (another batch size, a step past its
 * epoch, other metrics): false with "PATH: reason" in err. */
bool ckpt_resume_epoch(const Checkpoint *c, const CkptRun *run, const char *path, CkptEpoch *out, char *err,
                       size_t errlen);

/* Hash of the tensors' names, kinds and shapes, independent of their order
 * (values do not enter it). */
uint64_t ckpt_layout_hash(const CkptTensor *t, int n);

/* Writes model, pos and tensors t[0..n) to path atomically (outfile_write).
 * On failure returns false with "PATH: reason" in err; an existing file at
 * path is then unchanged and no temporary file is left behind. */
bool ckpt_write(const char *path, const char *model, const CkptPosition *pos,
                const CkptTensor *t, int n, char *err, size_t errlen);

/* Reads and validates path into *out (free with ckpt_free).  If expect is not
 * NULL, the file must hold exactly the tensors expect[0..nexpect) describe
 * (name, kind, shape; data is ignored), else it is refused naming the first
 * difference.  On failure returns false, "PATH: reason" in err, *out empty. */
bool ckpt_read(const char *path, const CkptTensor *expect, int nexpect, Checkpoint *out,
               char *err, size_t errlen);
void ckpt_free(Checkpoint *c);

/* The tensor called name, or NULL. */
const CkptTensor *ckpt_find(const Checkpoint *c, const char *name);

#endif
