/* session: a model's compiled graphs and the memory they share.
 *
 * A Session owns the Store (store.h): every PARAM and STATE tensor in flat
 * buffers, shared by every graph compiled for the model, so an update written
 * by the train step is what the evaluation graph reads next.  The store's
 * tensors are known before any graph is compiled: session_init lowers the
 * train step and the evaluation graph once and collects their leaves.
 *
 * The train step also comes split at the gradients: GRAPH_GRAD_STEP writes
 * every parameter's gradient (the mean over its batch) into store.grad, at the
 * parameter's offset; GRAPH_UPDATE reads them from there, clips them and
 * updates the parameters and optimizer state.  Between the two runs a caller
 * may change store.grad (sum the gradients of several shards or ranks: a
 * shard's graph writes its share of the global batch's mean, so the sum is
 * that mean); left alone, the two runs give the bits one GRAPH_TRAIN run
 * gives.
 *
 * Graphs are compiled on demand per (kind, batch size): training needs the
 * full batch and the last partial batch; evaluation needs whatever remainders
 * the validation and test sets leave.  Each compiled graph binds its INPUT
 * leaves by name to its own batch buffers (feeds), which session_gather fills
 * from the data set column of the same name.
 */
#ifndef NNC_SESSION_H
#define NNC_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt.h"
#include "data.h"
#include "cli.h"
#include "jit.h"
#include "metrics.h"
#include "pool.h"
#include "target.h"
#include "sema.h"
#include "store.h"

typedef enum {
  GRAPH_TRAIN,       /* the fused train step: forward, gradients, update */
  GRAPH_EVAL,        /* evaluation forward: dropout off, running statistics */
  GRAPH_GRAD_STEP,   /* the train step's first half: forward and gradients into store.grad */
  GRAPH_UPDATE,      /* its second half: clipping and the update from store.grad (batch 0) */
  GRAPH_UPDATE_SLICE, /* GRAPH_UPDATE of the elements lo..hi-1 of store.param only (a rank's
                         slice of a sharded update, lower_update_slice) */
} GraphKind;

/* An INPUT leaf of a compiled graph and the batch buffer bound to it. */
typedef struct {
  const char *name;   /* the input or target it is fed from */
  float *buf;         /* batch * width floats, 64-byte aligned (owned) */
  int64_t width;      /* floats per sample */
  bool target;        /* fed from a target (else an input) */
} Feed;

typedef struct {
  GraphKind kind;     /* what it computes */
  int batch;          /* batch size it was compiled for (0: no batch axis) */
  int first;          /* GRAPH_GRAD_STEP of a rank's shard: the shard's first sample in the
                         global batch (its dropout masks are the global batch's); else 0 */
  int total;          /* GRAPH_GRAD_STEP of a rank's shard: the global batch's samples (its
                         gradients are the shard's share of the global mean); else batch */
  int64_t lo, hi;     /* GRAPH_UPDATE_SLICE: the floats of store.param it updates; else 0 */
  IrGraph *ir;        /* the simplified IR it was compiled from */
  JitGraph *jit;      /* the compiled code */
  Feed *feeds;        /* its INPUT leaves */
  int nfeeds;         /* count */
} Compiled;

/* An output the session judges: the graph output, the name it is shown by
 * and how accuracy reads it against its target's column. */
typedef struct {
  const char *output;   /* graph output ("output", "output NAME") */
  const char *name;     /* the binding it is ("logits") */
  const char *target;   /* the target it predicts, or NULL */
  MetricSpec metric;    /* how accuracy reads it (METRIC_NONE: no accuracy) */
} SessionHead;

enum { SESSION_MAX_HEADS = 16 };   /* outputs whose accuracy is reported */

typedef struct {
  const Model *model;   /* checked model */
  Arena *arena;         /* IR graphs */
  Store store;          /* PARAM/STATE tensors in flat buffers */
  Compiled **graphs;    /* compiled so far (stable addresses) */
  int ngraphs;          /* number compiled */
  int nfeat;            /* floats per input sample, every input's side by side (0: model without inputs) */
  int ntarget;          /* floats per target sample, every target's side by side */
  int nclasses;         /* > 0 for a model of one class target */
  MetricSpec metric;    /* how accuracy reads the first output (metrics.h) */
  DataColumn *cols;     /* every input, then every target: where each sits in a Dataset row */
  int ncols;            /* ninputs + ntargets */
  SessionHead *heads;   /* every output, the first as metric says */
  int nheads;           /* how many (0: no output) */
  int threads;          /* threads graphs run on (default: every CPU this process may use) */
  bool no_cache;        /* neither read nor fill the cache: compile afresh, inflate data again */
  Target target;        /* the host, resolved at the first compile */
  Pool *pool;           /* the threads, started at the first compile */
} Session;

/* Sets up a session for m: lowers its graphs once to lay out the store (no
 * code is compiled yet).  Returns false with a message in err when the model
 * does not fit the runtime. */
bool session_init(Session *s, const Model *m, char *err, size_t errlen);
void session_free(Session *s);
/* Loads a data source for the session's model: the features and targets
 * (features_only: the inputs alone), at most max_samples (> 0) samples.
 * A source that names what feeds each input and target is read by those
 * names (data_load_columns), any other as a model of one input and one
 * target reads it.  false with "FILE: reason" in err. */
bool session_load_data(const Session *s, const DataSpec *spec, bool features_only, int max_samples, Dataset *out,
                       char *err, size_t errlen);
/* Takes --threads and --no-cache from the command line (false: error printed). */
bool session_options(Session *s, const Cli *c);

/* A graph a caller needs compiled. */
typedef struct {
  GraphKind kind;
  int batch;
  int first;   /* Compiled.first */
  int total;   /* Compiled.total (0: batch) */
  int64_t lo, hi;   /* Compiled.lo, hi */
} GraphWant;

/* Compiles every wanted graph not compiled yet, several at once (up to the
 * session's thread count: LLVM's time is most of the time to the first
 * step).  false with the first failure's message. */
bool session_compile(Session *s, const GraphWant *want, int n, char *err, size_t errlen);

/* The compiled graph of that kind and batch size, compiling it the first
 * time.  NULL with a message on failure. */
Compiled *session_graph(Session *s, GraphKind kind, int batch, char *err, size_t errlen);
/* The same for a GRAPH_GRAD_STEP of a shard starting at sample `first` of a
 * global batch of `total` samples. */
Compiled *session_shard_graph(Session *s, GraphKind kind, int batch, int first, int total, char *err, size_t errlen);

/* The GRAPH_UPDATE_SLICE of store.param[lo..hi) (multiples of 16). */
Compiled *session_update_slice(Session *s, int64_t lo, int64_t hi, char *err, size_t errlen);

/* Copies samples idx[0..n) of d into the graph's feeds. */
void session_gather(Compiled *c, const Dataset *d, const int *idx, int n);
/* Runs a graph on samples idx[0..n) of d (n == graph batch; d NULL for
 * models without inputs). */
void session_run(Compiled *c, const Dataset *d, const int *idx, int n);

/* Loss and accuracy of the current weights on all of d, in evaluation mode
 * (session_evaluate, which also fills confusion when it is not NULL). */
typedef struct {
  double loss;        /* mean loss per sample (a sum while accumulating) */
  double accuracy;    /* the first output's fraction of judgements correct, or NAN when it has no accuracy (metrics.h) */
  int64_t n;          /* samples seen */
  int64_t correct;    /* correct judgements (one per sample, or per column for binary targets) */
  Confusion *confusion;   /* when set, every judgement is also counted here (one per head: confusion[h]) */
  int nheads;         /* > 1: a model of several outputs, each judged on its own: */
  const char *head[SESSION_MAX_HEADS];       /* its name */
  int64_t head_correct[SESSION_MAX_HEADS];   /* its correct judgements */
  double head_accuracy[SESSION_MAX_HEADS];   /* its accuracy, or NAN */
} Metrics;
bool session_evaluate(Session *s, const Dataset *d, int batch, Metrics *out, Confusion *confusion, char *err,
                      size_t errlen);
/* The sums (loss summed, not a mean) of samples lo..hi-1 of d, in batches
 * starting at lo; session_finish_metrics turns them into means. */
bool session_evaluate_range(Session *s, const Dataset *d, int lo, int hi, int batch, Metrics *out, char *err,
                            size_t errlen);

/* Adds to *m the loss and the correct judgements of the batch the graph
 * just ran. */
void session_accumulate(const Session *s, const Compiled *c, const Dataset *d, const int *idx, int n,
                        Metrics *m);
/* Turns accumulated sums into means (loss per sample, accuracy). */
void session_finish_metrics(const Session *s, Metrics *m);

/* A loss as people read it: four decimals, or three significant digits below
 * 0.01 and from 1e5 on.  buf has room for 32 bytes. */
const char *session_loss_str(double v, char *buf);
/* "  WHAT loss L  accuracy A" (accuracy only for class targets; with
 * several outputs "NAME accuracy A" for each judged one), no newline. */
void session_print_metrics(const char *what, const Metrics *m);

/* After a non-finite loss: evaluates the graph's IR in double from the current
 * store and feeds (the caller restores the values the failing step started
 * from), and describes the first value that is not a finite float ("log of
 * 'z' at model.nn:4") into buf.  Returns that value's node, or NULL. */
const IrNode *session_explain_nonfinite(Session *s, const Compiled *c, char *buf, size_t len);

/* Copies the tensors of checkpoint c (read from path) into the store.  With
 * everything, every tensor must be there (resuming); otherwise only the model
 * is taken: parameters and the state evaluation reads (running statistics),
 * never optimizer state (evaluation, --init).  Refuses with "PATH: reason" on
 * stderr. */
bool session_load(Session *s, const Checkpoint *c, const char *path, bool everything);

#endif
