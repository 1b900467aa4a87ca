/* lower: a checked Model to IR graphs.
 *
 * The language's per-sample semantics become batched IR: every input and
 * target is an IR input [B, per-sample shape...] (class targets one-hot
 * [B, k]), parameters keep their own shapes, and the loss is the per-sample
 * loss averaged over the batch (a scalar).  Models without inputs or targets
 * have no batch axis at all (batch 0) and their loss is the expression itself.
 *
 * Graphs and their outputs:
 *   lower_forward     "loss", "output" (the prediction [B, ...], if any)
 *   lower_grad        forward (training mode) + "grad NAME" per parameter
 *   lower_train_step  forward (training mode) + gradients + clipping +
 *                     optimizer updates (optim.c); outputs "loss", "output"
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

/* The forward graph named "<model>.<what>", leaving the lowering context in
 * *L (its params[] are the PARAM leaves), for the graphs built on top. */
IrGraph *lower_model(const Model *m, Arena *a, int batch, bool training, const char *what, LowerCtx *L);
/* Whether the model's values have a batch axis (it has inputs or targets). */
bool lower_has_batch(const Model *m);

#endif
