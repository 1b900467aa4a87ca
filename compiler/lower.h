/* lower: a checked Model to IR graphs.
 *
 * The language's per-sample semantics become batched IR: every input and
 * target is an IR input [B, per-sample shape...] (class targets one-hot
 * [B, k]), parameters keep their own shapes, and the loss is the per-sample
 * loss averaged over the batch (a scalar).  Models without inputs or targets
 * have no batch axis at all (batch 0) and their loss is the expression itself.
 *
 * Graphs and their outputs:
 *   lower_forward     "loss", "output" (the prediction [B, ...], if any) and,
 *                     for a model of several heads, "output NAME" for each
 *                     other head (lower_output_name)
 *   lower_grad        forward (training mode) + "grad NAME" per parameter
 *   lower_train_step  forward (training mode) + gradients + clipping +
 *                     optimizer updates (optim.c); outputs "loss", "output"
 * and the same train step split at the gradients, for runtimes that combine
 * gradients between the halves (threads, ranks):
 *   lower_grad_step   forward (training mode) + gradients, each written as
 *                     the update of a STATE leaf "grad NAME" (the runtime binds
 *                     it to its flat gradient buffer), + the forward's own
 *                     updates (batch-norm statistics, the dropout counter)
 *   lower_update_step clipping + optimizer updates reading the gradients as
 *                     INPUT leaves "grad NAME" (no batch axis)
 * Running the two halves one after the other computes what lower_train_step
 * computes.
 * Every node carries provenance: the source place and the binding ("h1"),
 * "loss", "output", "clip" or "<optimizer> NAME" it came from.
 */
#ifndef NNC_LOWER_H
#define NNC_LOWER_H

#include "ir.h"
#include "sema.h"

typedef struct LowerCtx LowerCtx;   /* builtins.h */

/* training: dropout active and batch_norm on batch statistics (with running
 * statistic updates); else dropout is the identity and batch_norm uses the
 * running statistics. */
IrGraph *lower_forward(const Model *m, Arena *a, int batch, bool training);
IrGraph *lower_grad(const Model *m, Arena *a, int batch);
IrGraph *lower_train_step(const Model *m, Arena *a, int batch);
/* A shard of a larger batch (a rank's): samples first..first+batch-1 of a
 * batch of `total`, whose dropout masks it draws; its gradients are its
 * share of the larger batch's mean gradient (the shard's sum over total), so
 * the shards' gradients add up to that mean.  total == batch: a whole batch. */
IrGraph *lower_grad_step(const Model *m, Arena *a, int batch, int first, int total);
IrGraph *lower_update_step(const Model *m, Arena *a);
/* Part of a parameter: its elements first..first+count-1 in row-major order. */
typedef struct {
  int64_t first, count;
} LowerPiece;
/* lower_update_step of pieces of the parameters (a rank's slice of a sharded
 * update): piece[i] of parameter i (count 0: none of it).  A piece smaller
 * than its parameter is a vector leaf "NAME@FIRST" (lower_piece_name), and
 * so are its gradient ("grad NAME@FIRST") and optimizer state
 * ("adam.m/NAME@FIRST"): a runtime binds them to the parameter's, the
 * gradient's and the state's buffers from element FIRST on.  Every update
 * is elementwise except clipping by the global norm, which needs every
 * gradient: with clip_norm the graph reads the squared global norm (of the
 * gradients after clip_value) from the scalar INPUT leaf LOWER_CLIP_SUMSQ,
 * which the runtime sums over the slices. */
IrGraph *lower_update_slice(const Model *m, Arena *a, const LowerPiece *piece);
#define LOWER_CLIP_SUMSQ "clip sumsq"
#define LOWER_PIECE_MARK "@"
const char *lower_piece_name(Arena *a, const char *name, int64_t first);
/* The parameter (index in m->params) whose optimizer state leaf `name` is
 * ("adam.m/h1.w" is h1.w's), or -1 (a hyperparameter, the step counter,
 * anything else). */
int optim_state_param(const Model *m, const char *name);
/* The graph output of m's output i: "output" for the first, "output NAME". */
const char *lower_output_name(const Model *m, int i, Arena *a);
/* "grad NAME": the leaf carrying parameter NAME's gradient between the halves. */
#define LOWER_GRAD_PREFIX "grad "
const char *lower_grad_leaf(Arena *a, const char *param);
/* "sgd", "adam", ...: the prefix of the optimizer's leaves ("adam.lr"). */
const char *optim_name(OptimKind k);
/* Whether leaf `name` is one of m's optimizer hyperparameters ("adam.lr"). */
bool optim_is_hyper(const Model *m, const char *name);

/* The forward graph named "<model>.<what>", leaving the lowering context in
 * *L (its params[] are the PARAM leaves), for the graphs built on top. */
IrGraph *lower_model(const Model *m, Arena *a, int batch, bool training, const char *what, LowerCtx *L);
/* lower_model of a shard of a larger batch that starts at sample `first`. */
IrGraph *lower_model_shard(const Model *m, Arena *a, int batch, int first, bool training, const char *what,
                           LowerCtx *L);
/* Whether the model's values have a batch axis (it has inputs or targets). */
bool lower_has_batch(const Model *m);

#endif
