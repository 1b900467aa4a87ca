/* session: a model's compiled graphs and the memory they share.
 *
 * A Session owns one aligned float buffer per PARAM/STATE leaf (the Store),
 * keyed by leaf name and shared by every graph compiled for the model, so an
 * update written by the train step is what the evaluation graph reads next.
 * Each compiled graph has its own input buffers, sized for its batch.
 *
 * Graphs are compiled on demand per (kind, batch size): training needs the full
 * batch and the last partial batch; evaluation needs whatever remainders the
 * validation and test sets leave.
 */
#ifndef NNC_SESSION_H
#define NNC_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt.h"
#include "data.h"
#include "jit.h"
#include "rng.h"
#include "sema.h"

typedef struct {
  const char *name;   /* leaf name */
  IrOp op;            /* OP_PARAM or OP_STATE */
  Shape shape;        /* its shape */
  IrInit init;        /* how it starts */
  float *data;        /* numel floats, 64-byte aligned */
  bool model_state;   /* read by an evaluation graph: part of the model (running
                         statistics), unlike optimizer state */
} Slot;

typedef enum { GRAPH_TRAIN, GRAPH_EVAL } GraphKind;

typedef struct {
  GraphKind kind;     /* train step or evaluation */
  int batch;          /* batch size it was compiled for (0: no batch axis) */
  IrGraph *ir;        /* the simplified IR it was compiled from */
  JitGraph *jit;      /* the compiled code */
  float *x;           /* input buffer (batch * nfeat), or NULL */
  float *y;           /* target buffer (batch * ntarget), or NULL */
} Compiled;

typedef struct {
  const Model *model;   /* checked model */
  Arena *arena;         /* IR graphs */
  Slot *slots;          /* PARAM/STATE leaves, in first-seen order */
  int nslots;           /* number of slots */
  Compiled **graphs;    /* compiled so far (stable addresses) */
  int ngraphs;          /* number compiled */
  int nfeat;            /* floats per input sample (0: model without inputs) */
  int ntarget;          /* floats per target sample */
  int nclasses;         /* > 0 for a class target */
} Session;

/* Sets up a session for m (no graph compiled yet).  Returns false with a
 * message in err when the model does not fit the runtime (more than one input
 * or target). */
bool session_init(Session *s, const Model *m, char *err, size_t errlen);
void session_free(Session *s);

/* The compiled graph of that kind and batch size, compiling it (and creating
 * slots for new leaves) the first time.  NULL with a message on failure. */
Compiled *session_graph(Session *s, GraphKind kind, int batch, char *err, size_t errlen);

/* Fills every slot from its initializer, in slot order, from rng. */
void session_init_values(Session *s, Rng *rng);
Slot *session_slot(Session *s, const char *name);

/* Copies samples idx[0..n) of d into the graph's input buffers. */
void session_gather(Compiled *c, const Dataset *d, const int *idx, int n);
/* Runs a graph on samples idx[0..n) of d (n == graph batch). */
void session_run(Compiled *c, const Dataset *d, const int *idx, int n);

/* Loss and accuracy of the current weights on all of d, in evaluation mode. */
typedef struct {
  double loss;        /* mean loss per sample */
  double accuracy;    /* fraction correct, or NAN when the target is not classes */
  int64_t n;          /* samples seen */
  int64_t correct;    /* correctly classified samples */
} Metrics;
bool session_evaluate(Session *s, const Dataset *d, int batch, Metrics *out, char *err, size_t errlen);

/* Adds to *m the loss and argmax hits of the batch the graph just ran. */
void session_accumulate(const Session *s, const Compiled *c, const Dataset *d, const int *idx, int n,
                        Metrics *m);

/* A loss as people read it: four decimals, or three significant digits below
 * 0.01.  buf has room for 32 bytes. */
const char *session_loss_str(double v, char *buf);
/* "  WHAT loss L  accuracy A" (accuracy only for class targets), no newline. */
void session_print_metrics(const char *what, const Metrics *m);

/* After a non-finite loss: evaluates the graph's IR in double from the current
 * leaf values and input buffers (the caller restores the values the failing
 * step started from), and describes the first value that is not a finite
 * float ("log of 'z' at model.nn:4") into buf. */
void session_explain_nonfinite(Session *s, const Compiled *c, char *buf, size_t len);

/* Copies the tensors of checkpoint c (read from path) into the slots.  With
 * everything, every slot must be there (resuming); otherwise only the model
 * is taken: parameters and the state evaluation reads (running statistics),
 * never optimizer state (evaluation, --init).  Refuses with "PATH: reason" on
 * stderr. */
bool session_load(Session *s, const Checkpoint *c, const char *path, bool everything);

#endif
