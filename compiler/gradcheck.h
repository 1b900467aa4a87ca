/* gradcheck: checks symbolic gradients against central finite differences on
 * the reference evaluator, for `nnc check` and `nnc grad --at`.
 *
 * Everything runs in double precision on ir_eval, so a correct rule agrees
 * with the finite difference to about 1e-8 relative; the default tolerance
 * (1e-5) leaves room for curvature, not for a wrong rule.
 */
#ifndef NNC_GRADCHECK_H
#define NNC_GRADCHECK_H

#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "sema.h"

/* Values for every INPUT/PARAM/STATE leaf of g, indexed by node id: params and
 * state from their initializers (seeded), inputs uniform in [0,1), class
 * targets as random one-hot rows.  Arrays live in `a`. */
double **gradcheck_leaf_values(const IrGraph *g, const Model *m, uint64_t seed, Arena *a);

/* Evaluates `loss` of g (a fresh evaluation from the leaf values only). */
double gradcheck_loss(const IrGraph *g, IrNode *loss, double **leaves, Arena *scratch);

/* How adjoints are obtained (grad_build's signature): normally grad_build;
 * tests substitute a broken one to see that the checker names the culprit. */
typedef IrNode **(*AdjointFn)(IrGraph *g, IrNode *loss, int n, IrNode *const *wrt);

/* Walks the nodes the loss depends on from the loss backwards and returns the
 * first whose adjoint (from `adjoint`, or grad_build when NULL) disagrees with finite differences by
 * more than tol, or NULL if all agree.  The gradient rule at fault belongs to
 * one of that node's users, whose adjoints did agree. */
IrNode *gradcheck_localize(IrGraph *g, IrNode *loss, double **leaves, AdjointFn adjoint, double tol,
                           Arena *scratch);

/* Relative error measure used throughout: |a-b| / max(|a|, |b|, 1e-4).
 * Below 1e-4 it is an absolute error: a central difference of a loss of size
 * ~1 carries rounding noise of ~1e-10, which would otherwise dominate the
 * comparison of near-zero gradients (dead ReLUs, batch norm on tiny batches). */
double gradcheck_rel_error(double a, double b);

#endif
