/* trainer: the training loop as an object.
 *
 * A Trainer holds one run's state (the session and its store, the data, the
 * generator, the position, the epoch under way, early stopping) and offers
 * the loop's pieces: trainer_step (one optimizer step), trainer_epoch (a
 * shuffle, the steps, validation, early stopping), trainer_evaluate and
 * trainer_checkpoint.  Later stages plug in through hooks instead of editing
 * the loop:
 *   TRAINER_BEFORE_UPDATE  with a step's gradients in hand, before clipping
 *                        and the update read them: the mean gradient of the
 *                        step's batch of every parameter sits in
 *                        t->s.store.grad at the parameter's offset (store.h),
 *                        so combining shards or ranks is one call over one
 *                        buffer (a rank's shard writes its share of the
 *                        global batch's mean: the ranks' sum is that mean).
 *                        Only for a trainer made with opt.split.
 *   TRAINER_AFTER_STEP   after every optimizer step (progress lines)
 *   TRAINER_AFTER_EPOCH  after an epoch's metrics, validation and early
 *                        stopping (epoch lines, JSON logs, periodic saves)
 *   TRAINER_WHOLE_STORE  before the whole store is read: at an epoch's end
 *                        (before validation, early stopping and the
 *                        after-epoch hooks) and before a checkpoint is
 *                        written; with a sharded update (below) each rank's
 *                        optimizer state is current only in its slice
 * A hook returns false to stop training with an error it has reported.
 *
 * The train step is one fused graph (GRAPH_TRAIN) unless opt.split asks for
 * the two halves (GRAPH_GRAD_STEP, GRAPH_UPDATE; session.h) with the
 * before-update hooks between them.  Without hooks that change the
 * gradients, both give the same bits.  Replaying steps to explain a
 * non-finite loss runs the halves without the hooks.
 *
 * With ranks the update is sharded (ZeRO stage 1): rank r's second half is
 * GRAPH_UPDATE_SLICE of its slice of store.param (trainer_slice), so a
 * before-update hook need only bring that slice of the gradients to the
 * global batch's mean, and an after-step hook must give every rank the other
 * ranks' slices of the parameters (and a whole-store hook their optimizer
 * state).
 */
#ifndef NNC_TRAINER_H
#define NNC_TRAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ckpt.h"
#include "session.h"

typedef struct Trainer Trainer;

typedef enum {
  TRAINER_BEFORE_UPDATE,
  TRAINER_AFTER_STEP,
  TRAINER_AFTER_EPOCH,
  TRAINER_WHOLE_STORE,
  TRAINER_HOOKS
} TrainerHookPoint;
typedef bool (*TrainerHookFn)(Trainer *t, void *ctx);

enum { TRAINER_MAX_HOOKS = 8 };   /* per hook point */

typedef enum {
  TRAIN_DONE,           /* every epoch ran */
  TRAIN_STOPPED_EARLY,  /* early stopping restored the best epoch's weights */
  TRAIN_INTERRUPTED,    /* *stop was set: the position says where to resume */
  TRAIN_FAILED,         /* a non-finite loss, a hook or a compile error (reported) */
} TrainStatus;

/* The ranks a data-parallel run is spread over (dist.h, docs/distributed.md).
 * Every rank runs the same trainer: it takes its fixed shard of each global
 * batch, a before-update hook sums the gradients, and metrics are summed
 * through `sum`.  A trainer alone is rank 0 of 1 (size 0 means the same). */
typedef struct {
  int rank, size;
  /* Sums n doubles over the ranks in place, every rank getting the same bits;
   * every rank calls it at the same point of the run. */
  void (*sum)(double *v, int n, void *ctx);
  /* Moves the store's (zeroed) param and grad buffers into memory the ranks
   * share, before any graph binds them; NULL: each rank keeps its own. */
  void (*place)(Store *s, void *ctx);
  void *ctx;
} TrainerRanks;

typedef struct {
  long long limit;                 /* > 0: train on the first `limit` samples only */
  volatile sig_atomic_t *stop;     /* set (by a signal handler) to stop after the current step; may be NULL */
  int threads;                     /* > 0: threads to run on (else every CPU this process may use) */
  bool no_cache;                   /* compile afresh, inflate data again (no cache) */
  bool split;                      /* run the train step split at the gradients (TRAINER_BEFORE_UPDATE hooks) */
  TrainerRanks ranks;              /* several ranks: needs split and a hook that sums the gradients */
} TrainerOptions;

/* The loaded data: training, validation and test sets. */
typedef struct {
  Dataset train, val, test;   /* val/test may be empty */
  bool has_val, has_test;     /* which are present */
  DataNorm norm;              /* standardization statistics of the training set (nfeat 0 without) */
} TrainData;

/* Where an epoch under way stands (all zero between epochs). */
typedef struct {
  int next;          /* next step of the epoch (0: not started) */
  int first;         /* the step this process started the epoch at (a resumed epoch starts late) */
  Metrics m;         /* training metrics of the steps so far (sums over every rank's shard) */
  Rng rng;           /* the generator before the epoch's shuffle (replays the order) */
  double start;      /* when this process started the epoch (seconds) */
} EpochState;

struct Trainer {
  const Model *m;            /* the model; m->train holds the settings in force */
  Session s;                 /* compiled graphs and the store */
  TrainData data;            /* what it trains on */
  bool has_batch;            /* the model has inputs or targets (else one step per epoch) */
  int batch;                 /* samples per step (0 without a batch axis) */
  int ntrain;                /* training samples (1 for a model without inputs) */
  int used;                  /* samples an epoch trains on (batch norm may leave one out) */
  int steps_per_epoch;       /* optimizer steps per epoch */
  Compiled *step, *step_rem; /* the train step for full batches and for the last partial one
                                (with opt.split, its first half: forward and gradients); of
                                this rank's shard of them, NULL when the shard is empty */
  int shard_n;               /* the step under way: samples in this rank's shard of its global
                                batch (its gradients are the shard's share of the batch's mean) */
  Compiled *update;          /* with opt.split, the second half: clipping and the update (else NULL) */
  double compile_seconds;    /* time spent compiling them */
  double load_seconds;       /* time spent loading the data */
  bool data_beside_compile;  /* the data loaded on a thread of its own while the steps compiled */
  Rng rng;                   /* the shuffling generator */
  const Tensor *lr_leaf;     /* the optimizer's learning-rate leaf (NULL without parameters) */
  double lr;                 /* the learning rate in force (the step reads it rounded to float) */
  CkptPosition pos;          /* epoch, step, early stopping, generator at the last epoch end */
  EpochState ep;             /* the epoch under way */
  int *perm;                 /* this epoch's sample order */
  float *snapshot;           /* param and state at ep.first (replays after a non-finite loss) */
  float *best;               /* early stopping: param and state of the best epoch, else NULL */
  bool stopped_early;        /* early stopping ended the run */
  Metrics last_train;        /* metrics of the last finished epoch */
  Metrics last_val;          /* its validation metrics (accuracy NAN, n 0 without validation) */
  double epoch_seconds;      /* duration of the last finished epoch in this process */
  int64_t epoch_samples;     /* samples this process trained in it */
  double train_seconds;      /* all epochs so far in this process */
  int64_t samples_done;      /* samples (steps, without inputs) trained in this process */
  TrainerOptions opt;        /* as given */
  struct {
    TrainerHookFn fn;
    void *ctx;
  } hooks[TRAINER_HOOKS][TRAINER_MAX_HOOKS];
  int nhooks[TRAINER_HOOKS];
};

/* Loads the data, compiles the train step and initializes the weights from
 * the seed.  false (message printed, prefixed by `file`) on failure; the
 * trainer must still be freed. */
bool trainer_init(Trainer *t, const Model *m, const char *file, const TrainerOptions *opt);
void trainer_free(Trainer *t);

/* The floats of store.param rank `rank` updates with a sharded update
 * (lo..hi-1, multiples of 16; t->update is GRAPH_UPDATE_SLICE then): the
 * ranks' slices split the buffer in order. */
void trainer_slice(const Trainer *t, int rank, int64_t *lo, int64_t *hi);

/* Adds a hook; hooks at one point run in the order they were added.
 * TRAINER_BEFORE_UPDATE needs a trainer made with opt.split. */
void trainer_hook(Trainer *t, TrainerHookPoint at, TrainerHookFn fn, void *ctx);

/* Continues from a checkpoint (resume: everything, exactly; else the weights
 * only, with fresh optimizer state).  false with a message printed. */
bool trainer_restore(Trainer *t, const char *path, bool resume);

/* One optimizer step on the epoch's next batch.  false after a non-finite
 * loss, explained on stderr. */
bool trainer_step(Trainer *t);
/* The rest of the current epoch (or a new one): shuffle, steps, metrics,
 * validation, early stopping, hooks. */
TrainStatus trainer_epoch(Trainer *t);
/* Epochs until m->train.epochs, an early stop, an interruption or a failure. */
TrainStatus trainer_run(Trainer *t);

/* Loss and accuracy of the current weights on d, in evaluation mode (each
 * rank evaluates its shard of whole batches; the sums are combined). */
bool trainer_evaluate(Trainer *t, const Dataset *d, Metrics *out);
/* Writes a checkpoint (atomically): the store, the position, the epoch under
 * way and the early-stopping copy.  false with a message printed.  With
 * ranks, every rank calls it (the optimizer state is gathered) and rank 0
 * writes. */
bool trainer_checkpoint(Trainer *t, const char *path);

#endif
