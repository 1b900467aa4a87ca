/* grad: reverse-mode symbolic differentiation on the IR.
 *
 * In:  a graph, a loss node with one element, and the nodes to differentiate
 *      with respect to (usually the PARAM leaves).
 * Out: gradient nodes built in the same graph (hash-consed, so shared
 *      subexpressions of forward and backward collapse).
 *
 * The sweep visits nodes from the loss down in creation order, which is a
 * reverse topological order; each op's VJP rule lives in ops.c next to its
 * evaluator rule and feeds the adjoints of the op's sources through
 * grad_accum, the single place that undoes broadcasting.
 */
#ifndef NNC_GRAD_H
#define NNC_GRAD_H

#include "ir.h"

struct GradCtx {
  IrGraph *g;            /* graph being differentiated; gradient nodes go here too */
  IrNode **adj;          /* adj[id]: adjoint of forward node id so far, NULL = zero */
  int nadj;              /* forward nodes covered by adj (ids < nadj) */
  const bool *needed;    /* needed[id]: node depends on a wrt node; NULL = all are */
};

/* Adds `contribution` to the adjoint of x.  The contribution may have x's
 * shape or any shape x broadcasts to; the broadcast axes are summed away
 * (reduce_sum) and the result reshaped to x's shape.  Nothing happens when x
 * does not depend on a wrt node: its adjoint could not reach a result. */
void grad_accum(GradCtx *G, IrNode *x, IrNode *contribution);

/* Gradients of `loss` (numel 1) with respect to wrt[0..n): an arena array of n
 * nodes, each with the shape of its wrt node.  A wrt node the loss does not
 * depend on gets zeros.  Gradient nodes are labelled "grad <forward label or
 * leaf name>" and carry the forward node's source location. */
IrNode **grad_build(IrGraph *g, IrNode *loss, int n, IrNode *const *wrt);

#endif
