/* grad: the reverse sweep (rules themselves live in ops.c).
 *
 * In:  graph g, a loss node with one element, nodes to differentiate by.
 * Out: one gradient node per wrt node, built in g.
 *
 * Adjoints are kept in an array indexed by forward node id; nodes created
 * during the sweep have larger ids and never need adjoints of their own.
 * Creation order is topological, so walking ids downward from the loss visits
 * every user of a node before the node: its adjoint is complete when its
 * rule runs.  Only nodes that depend on a wrt node receive adjoints, so no
 * backprop is built into data inputs or constant subgraphs.  While a rule runs, the graph's provenance is the forward node's
 * location and the label "grad <forward label>", so printed backprop says
 * which source value each gradient node belongs to.
 */
#include "grad.h"

#include <stdlib.h>

/* Sums c over the axes that broadcasting stretched to go from `to` to c's
 * shape, then reshapes to `to` (dropping the leading axes). */
static IrNode *unbroadcast(IrGraph *g, IrNode *c, Shape to) {
  if (shape_eq(c->shape, to)) return c;
  int lead = c->shape.ndim - to.ndim;
  if (lead < 0) die("gradient contribution has fewer axes than its value");
  unsigned axes = 0;
  for (int i = 0; i < c->shape.ndim; i++) {
    int from = c->shape.dim[i];
    int want = i < lead ? 1 : to.dim[i - lead];
    if (want == from) continue;
    if (want != 1) die("gradient contribution does not broadcast from its value");
    axes |= 1u << i;
  }
  IrNode *r = axes ? ir_reduce(g, OP_SUM, c, axes) : c;
  return shape_eq(r->shape, to) ? r : ir_reshape(g, r, to);
}

static const char *grad_label(IrGraph *g, const IrNode *n) {
  const char *what = n->label ? n->label : n->name;
  return what ? arena_printf(g->arena, "grad %s", what) : "grad";
}

void grad_accum(GradCtx *G, IrNode *x, IrNode *contribution) {
  if (x->id >= G->nadj) die("gradient for a node created during the sweep");
  if (G->needed && !G->needed[x->id]) return;
  IrGraph *g = G->g;
  /* the summing nodes belong to x's gradient */
  Loc saved_loc = g->cur_loc;
  const char *saved_label = g->cur_label;
  g->cur_loc = x->loc;
  g->cur_label = grad_label(g, x);
  IrNode *c = unbroadcast(g, contribution, x->shape);
  G->adj[x->id] = G->adj[x->id] ? ir_binary(g, OP_ADD, G->adj[x->id], c) : c;
  g->cur_loc = saved_loc;
  g->cur_label = saved_label;
}

/* zeros of shape s: the scalar 0, broadcast when s is not a scalar */
static IrNode *zeros(IrGraph *g, Shape s) {
  IrNode *z = ir_const(g, 0);
  return s.ndim ? ir_expand(g, z, s) : z;
}

IrNode **grad_build(IrGraph *g, IrNode *loss, int n, IrNode *const *wrt) {
  if (shape_numel(loss->shape) != 1) die("loss must have one element");
  Loc saved_loc = g->cur_loc;
  const char *saved_label = g->cur_label;
  int nfwd = g->nodes.len;
  bool *needed = xcalloc((size_t)nfwd + 1, sizeof(bool));
  for (int i = 0; i < n; i++) needed[wrt[i]->id] = true;
  for (int id = 0; id < nfwd; id++) {
    const IrNode *x = g->nodes.items[id];
    for (int s = 0; s < x->nsrc; s++) needed[id] = needed[id] || needed[x->src[s]->id];
  }
  GradCtx G = {g, xcalloc((size_t)nfwd, sizeof(IrNode *)), nfwd, needed};

  g->cur_loc = loss->loc;
  g->cur_label = grad_label(g, loss);
  IrNode *one = ir_const(g, 1);
  G.adj[loss->id] = loss->shape.ndim ? ir_expand(g, one, loss->shape) : one;
  for (int id = loss->id; id >= 0; id--) {
    IrNode *fwd = g->nodes.items[id];
    if (!G.adj[id] || !op_info[fwd->op].grad) continue;
    g->cur_loc = fwd->loc;
    g->cur_label = grad_label(g, fwd);
    op_info[fwd->op].grad(&G, fwd, G.adj[id]);
  }

  IrNode **out = NEW_ARRAY(g->arena, IrNode *, n > 0 ? n : 1);
  for (int i = 0; i < n; i++) {
    IrNode *w = wrt[i];
    g->cur_loc = w->loc;
    g->cur_label = grad_label(g, w);
    out[i] = w->id < G.nadj && G.adj[w->id] ? G.adj[w->id] : zeros(g, w->shape);
  }
  free(G.adj);
  free(needed);
  g->cur_loc = saved_loc;
  g->cur_label = saved_label;
  return out;
}
