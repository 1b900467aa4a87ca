/* config: what a .nn file says about training, as sema checked it.
 *
 * Plain data handed from the compiler (sema fills it from the `optimizer`
 * statement and the `train { }` block) to the runtime (data loading, training
 * loop) and to the optimizer lowering.  Command-line overrides (--epochs,
 * --batch, --seed) are applied to these structs before lowering; --lr only
 * goes to lr_override, which the runtime writes into the learning-rate leaf,
 * so the compiled code does not depend on it.
 */
#ifndef NNC_CONFIG_H
#define NNC_CONFIG_H

#include <stdbool.h>

#include "diag.h"

typedef enum {
  OPT_SGD,        /* w -= lr * g */
  OPT_MOMENTUM,   /* v = gamma*v - lr*g; w += v   (nesterov: w += gamma*v - lr*g) */
  OPT_ADAGRAD,    /* G += g^2; w -= lr * g / sqrt(G + eps) */
  OPT_RMSPROP,    /* v = beta*v + (1-beta)*g^2; w -= lr * g / (sqrt(v) + eps) */
  OPT_ADAM,       /* bias-corrected moments, t counts from 1 */
  OPT_ADAMW,      /* Adam with decoupled weight decay: w *= 1 - lr*weight_decay before the step */
} OptimKind;

typedef struct {
  OptimKind kind;     /* which rule */
  double lr;          /* learning rate alpha */
  double gamma;       /* MOMENTUM: momentum coefficient (0.9) */
  bool nesterov;      /* MOMENTUM: Nesterov's look-ahead form */
  double beta;        /* RMSPROP: decay of the squared-gradient average (0.9) */
  double beta1;       /* ADAM: first-moment decay (0.9) */
  double beta2;       /* ADAM: second-moment decay (0.999) */
  double eps;         /* ADAGRAD/RMSPROP/ADAM/ADAMW: denominator guard (1e-8) */
  double weight_decay;  /* ADAMW: decoupled decay (0.01); others: g += weight_decay*w when > 0 */
  double clip_value;  /* > 0: clamp every gradient element to [-clip_value, clip_value] */
  double clip_norm;   /* > 0: scale all gradients so their global L2 norm is at most clip_norm */
  Loc loc;            /* the optimizer statement */
} OptimConfig;

typedef enum {
  DATA_NONE,      /* not given */
  DATA_IDX,       /* IDX image/label file pair, gzipped or not */
  DATA_CSV,       /* comma-separated numbers, one sample per row */
} DataFormat;

/* Which file (IDX) or columns (CSV) feed one input or target: the source's
 * argument named after it, `image = "train-images.gz"` or `image =
 * columns("p0", "p783")`. */
typedef struct {
  const char *name;       /* the input or target fed */
  const char *file;       /* IDX: the file */
  const char **cols;      /* CSV: columns by name (ncols of them), or NULL */
  int ncols;              /* CSV: how many names in cols */
  const char *from, *to;  /* CSV: columns("a", "b"), from a to b by the header, or NULL */
  int first, last;        /* CSV: columns(i, j) or a single index: i..j (both included, 0-based); -1: not given */
  Loc loc;                /* the argument, for messages */
} DataBind;

typedef struct {
  DataFormat format;      /* which reader */
  const char *path;       /* IDX: prefix "dir/train" meaning dir/train-images-idx3-ubyte[.gz]
                             and dir/train-labels-idx1-ubyte[.gz]; CSV: the file */
  const char *images;     /* IDX: explicit images file (overrides path) or NULL */
  const char *labels;     /* IDX: explicit labels file (overrides path) or NULL */
  double scale;           /* features are multiplied by this (1 when not given) */
  bool standardize;       /* features standardized with the training set's per-feature mean/std */
  bool header;            /* CSV: skip the first row */
  bool target_first;      /* CSV: target column(s) come first (default: last) */
  DataBind *binds;        /* what feeds each input and target, or NULL: one input and one target */
  int nbinds;             /* how many */
  Loc loc;                /* where it was declared, for messages */
  bool cache;             /* not from the file: the runtime lets large gzipped files be cached inflated (cache.h) */
} DataSpec;

typedef enum {
  SCHED_NONE,       /* the learning rate stays as it is */
  SCHED_STEP,       /* lr * gamma^floor(epoch / every) */
  SCHED_COSINE,     /* linear warmup, then a half cosine from lr down to min */
  SCHED_EXPONENTIAL,/* lr * gamma^epoch */
  SCHED_PLATEAU,    /* lr *= factor after `patience` epochs without improvement */
} ScheduleKind;

/* How the learning rate changes from epoch to epoch (epochs counted from 0). */
typedef struct {
  ScheduleKind kind;  /* which rule */
  int every;          /* STEP: epochs per step */
  double gamma;       /* STEP, EXPONENTIAL: factor per step or epoch */
  int warmup;         /* COSINE: epochs of linear warmup */
  double min;         /* COSINE: the last learning rate; PLATEAU: the lowest */
  int patience;       /* PLATEAU: epochs without improvement before a cut */
  double factor;      /* PLATEAU: the cut */
  Loc loc;            /* the schedule setting */
} ScheduleConfig;

typedef struct {
  DataSpec data;            /* training data (required for `nnc train`) */
  DataSpec validation;      /* validation file, or format DATA_NONE */
  double validation_split;  /* fraction of data held out for validation when no file (0 = none) */
  DataSpec test;            /* test file, or format DATA_NONE */
  int epochs;               /* passes over the training data (default 10) */
  int batch;                /* mini-batch size (default 32) */
  bool shuffle;             /* reshuffle every epoch (default true) */
  unsigned long long seed;  /* seeds initializers, shuffling, dropout (default 42) */
  int patience;             /* early stopping: epochs without val-loss improvement (0 = off) */
  ScheduleConfig schedule;  /* learning-rate schedule (SCHED_NONE by default) */
  double lr_override;       /* --lr: the run's learning rate, set at run time (0: the file's) */
  Loc loc;                  /* the train block */
} TrainConfig;

#endif
