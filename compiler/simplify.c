/* simplify: constant folding, algebraic identities, CSE and dead code removal.
 *
 * In:  a graph.  Out: a new graph (same arena, name and batch) computing the
 * same outputs and updates; the input graph is not changed.
 *
 * Live nodes are copied in creation order through the rules below; building
 * in a fresh hash-consed graph merges common subexpressions, and copying only
 * live nodes drops dead code.  Rules see the already simplified sources and
 * call each other, so a rewrite that exposes another (0 - neg x -> neg neg x
 * -> x) is taken at once.  A last copy drops what rewriting built and then did
 * not use: the result holds the live nodes plus every leaf the original used.
 * Nodes carry the provenance of the node they replace.
 *
 * A "splat" is a CONST or an expand of one: every element equals one number.
 * Every rule keeps values exactly, with two documented exceptions that only
 * touch special values: x*0 -> 0 (wrong when x is inf or NaN) and rules that
 * drop an added zero may turn -0 into +0 or back (x+0, 0-x -> neg x,
 * reduce_sum over size-1 axes).  Folding is done in double; the code generator
 * rounds the folded constant to float once.
 */
#include <math.h>
#include <stdlib.h>

#include "ir.h"

/* Whether every element of n is one number, *v. */
static bool splat(const IrNode *n, double *v) {
  if (n->op == OP_EXPAND) n = n->src[0];
  if (n->op != OP_CONST) return false;
  *v = n->value;
  return true;
}

/* x broadcast to s (x's shape must broadcast to s). */
static IrNode *fit(IrGraph *g, IrNode *x, Shape s) { return shape_eq(x->shape, s) ? x : ir_expand(g, x, s); }

static IrNode *splat_of(IrGraph *g, double v, Shape s) { return fit(g, ir_const(g, v), s); }

static IrNode *s_unary(IrGraph *g, IrOp op, IrNode *a) {
  double v = 0;
  if (splat(a, &v)) return splat_of(g, op_info[op].scalar(v, 0, 0), a->shape);
  if (op == OP_NEG && a->op == OP_NEG) return a->src[0];
  return ir_unary(g, op, a);
}

/* A splat operand whose partner alone already has the result's shape is
 * replaced by its scalar CONST: same values, and x*expand(c) then looks like
 * x*c to the rules, to CSE and to the code generator. */
static IrNode *unsplat(IrNode *x, Shape other, Shape out) {
  return x->op == OP_EXPAND && x->src[0]->op == OP_CONST && shape_eq(other, out) ? x->src[0] : x;
}

static IrNode *s_binary(IrGraph *g, IrOp op, IrNode *a, IrNode *b) {
  Shape out;
  if (!ir_broadcast_shape(a->shape, b->shape, &out)) die("simplify: %s operands do not broadcast", op_info[op].name);
  a = unsplat(a, b->shape, out);
  b = unsplat(b, a->shape, out);
  double va = 0, vb = 0;
  bool ka = splat(a, &va), kb = splat(b, &vb);
  if (ka && kb) return splat_of(g, op_info[op].scalar(va, vb, 0), out);
  if ((op == OP_ADD || op == OP_MUL) && ka) {   /* constants go right: 2*b and b*2 become one node */
    IrNode *t = a;
    a = b;
    b = t;
    vb = va;
    kb = true;
    ka = false;
  }
  switch (op) {
  case OP_ADD:
    if (kb && vb == 0) return fit(g, a, out);
    if (b->op == OP_NEG) return s_binary(g, OP_SUB, a, b->src[0]);
    if (a->op == OP_NEG) return s_binary(g, OP_SUB, b, a->src[0]);
    break;
  case OP_SUB:
    if (kb && vb == 0) return fit(g, a, out);
    if (ka && va == 0) return fit(g, s_unary(g, OP_NEG, b), out);
    if (b->op == OP_NEG) return s_binary(g, OP_ADD, a, b->src[0]);
    break;
  case OP_MUL:
    if (kb && vb == 0) return splat_of(g, 0, out);
    if (kb && vb == 1) return fit(g, a, out);
    if (kb && vb == -1) return fit(g, s_unary(g, OP_NEG, a), out);
    break;
  case OP_DIV:
    if (kb && vb == 1) return fit(g, a, out);
    if (kb && vb == -1) return fit(g, s_unary(g, OP_NEG, a), out);
    break;
  case OP_POW:
    if (kb && vb == 1) return fit(g, a, out);
    if (kb && vb == 0) return splat_of(g, 1, out);   /* pow(x, 0) is 1 even for NaN x */
    if (kb && vb == 2) return fit(g, s_binary(g, OP_MUL, a, a), out);
    break;
  default: break;
  }
  return ir_binary(g, op, a, b);
}

static IrNode *s_where(IrGraph *g, IrNode *c, IrNode *a, IrNode *b);

/* where(0 < x, max_unpool2d(x, d), +0) -> max_unpool2d(x, where(0 < max_pool2d(x), d, +0)),
 * the ReLU mask over a max pool's gradient (NULL when the pattern is not
 * there).  Each window's gradient lands at the window's first maximum, whose
 * value is the pool's output there, so masking per window what is routed is
 * masking per element the routed result: the same values, bit for bit, for
 * any x (NaN included: 0 < NaN is false on both sides) and any windows.  The
 * mask then touches the pooled tensor, a quarter of the elements under a 2x2
 * pool, the pool is the forward one (hash-consed), and the unpool's output is
 * the masked gradient itself: one pass over the feature map fewer. */
static IrNode *relu_mask_before_unpool(IrGraph *g, IrNode *c, IrNode *a, IrNode *b) {
  double zero, vb;
  if (c->op != OP_CMPLT || a->op != OP_MAX_UNPOOL2D || !splat(c->src[0], &zero) || zero != 0 || !splat(b, &vb) ||
      vb != 0 || signbit(vb))
    return NULL;
  IrNode *x = a->src[0];
  if (c->src[1] != x || !shape_eq(a->shape, x->shape)) return NULL;
  IrNode *pooled = ir_window(g, OP_MAX_POOL2D, x, x, a->win, a->src[1]->shape);
  IrNode *keep = s_binary(g, OP_CMPLT, ir_const(g, 0), pooled);
  IrNode *d = s_where(g, keep, a->src[1], ir_const(g, 0));
  return ir_window(g, OP_MAX_UNPOOL2D, x, d, a->win, a->shape);
}

static IrNode *s_where(IrGraph *g, IrNode *c, IrNode *a, IrNode *b) {
  Shape ab, out;
  if (!ir_broadcast_shape(a->shape, b->shape, &ab) || !ir_broadcast_shape(c->shape, ab, &out))
    die("simplify: where operands do not broadcast");
  double vc;
  if (splat(c, &vc)) return fit(g, vc != 0 ? a : b, out);
  if (a == b) return fit(g, a, out);
  IrNode *masked = shape_eq(out, a->shape) ? relu_mask_before_unpool(g, c, a, b) : NULL;   /* not when broadcast wider */
  if (masked) return masked;
  return ir_where(g, c, a, b);
}

static IrNode *s_reduce(IrGraph *g, const IrNode *n, IrNode *a) {
  const OpInfo *oi = &op_info[n->op];
  double v = 0;
  bool k = splat(a, &v);
  if (shape_eq(n->shape, a->shape)) {   /* only size-1 axes: one element per result */
    if (n->op == OP_SUM) return a;
    if (k) return splat_of(g, oi->scalar(oi->identity, v, 0), n->shape);
  }
  /* the max of equal elements is any one of them; sums of a splat are not
   * folded because n*c need not round like the evaluator's running sum */
  if (k && (n->op == OP_RMAX || n->op == OP_RMIN)) return splat_of(g, oi->scalar(oi->identity, v, 0), n->shape);
  return ir_reduce(g, n->op, a, n->axes);
}

static IrNode *s_reshape(IrGraph *g, IrNode *a, Shape s) {
  double v = 0;
  if (shape_eq(a->shape, s)) return a;
  if (a->op == OP_RESHAPE) return s_reshape(g, a->src[0], s);
  if (splat(a, &v)) return splat_of(g, v, s);
  return ir_reshape(g, a, s);
}

static IrNode *s_expand(IrGraph *g, IrNode *a, Shape s) {
  if (shape_eq(a->shape, s)) return a;
  if (a->op == OP_EXPAND) return s_expand(g, a->src[0], s);
  return ir_expand(g, a, s);
}

static IrNode *s_transpose(IrGraph *g, IrNode *a, const int *perm) {
  int p[IR_MAX_DIMS] = {0};
  double v = 0;
  int nd = a->shape.ndim;
  for (int k = 0; k < nd; k++) p[k] = perm[k];
  if (a->op == OP_TRANSPOSE) {   /* out axis k = mid axis p[k] = input axis a->perm[p[k]] */
    for (int k = 0; k < nd; k++) p[k] = a->perm[perm[k]];
    a = a->src[0];
  }
  bool ident = true;
  for (int k = 0; k < nd; k++) ident = ident && p[k] == k;
  if (ident) return a;
  if (splat(a, &v)) {
    Shape s = a->shape;
    for (int k = 0; k < nd; k++) s.dim[k] = a->shape.dim[p[k]];
    return splat_of(g, v, s);
  }
  return ir_transpose(g, a, p);
}

/* A whole axis is the value itself; a slice of a splat is a splat, and a
 * slice of a pad along the same axis is the padded value where it covers it
 * exactly and zeros where it misses it (concat followed by a slice). */
static IrNode *s_range(IrGraph *g, const IrNode *n, IrNode *a) {
  int ax = n->range.axis, st = n->range.start, len = n->shape.dim[ax];
  double v = 0;
  if (shape_eq(a->shape, n->shape)) return a;
  if (n->op == OP_PAD) return ir_pad(g, a, ax, st, len);
  if (splat(a, &v)) return splat_of(g, v, n->shape);
  if (a->op == OP_PAD && a->range.axis == ax) {
    int from = a->range.start, to = from + a->src[0]->shape.dim[ax];
    if (st == from && st + len == to) return a->src[0];
    if (st + len <= from || st >= to) return splat_of(g, 0, n->shape);
  }
  return ir_slice(g, a, ax, st, len);
}

static IrNode *simplify_node(IrGraph *g, const IrNode *n, IrNode *const *src) {
  switch (op_info[n->op].kind) {
  case OPK_UNARY: return s_unary(g, n->op, src[0]);
  case OPK_BINARY: return s_binary(g, n->op, src[0], src[1]);
  case OPK_SELECT: return s_where(g, src[0], src[1], src[2]);
  case OPK_REDUCE: return s_reduce(g, n, src[0]);
  case OPK_MOVE:
    if (n->op == OP_RESHAPE) return s_reshape(g, src[0], n->shape);
    if (n->op == OP_EXPAND) return s_expand(g, src[0], n->shape);
    return s_transpose(g, src[0], n->perm);
  case OPK_RANGE: return s_range(g, n, src[0]);
  case OPK_LEAF:
  case OPK_MATMUL:
  case OPK_RAND:
  case OPK_WINDOW: break;
  }
  return ir_rebuild(g, n, src);
}

/* Copies the live nodes of `from` into a fresh graph, plus the leaves in
 * the leaves `orig` used (found by name), dropping the constants and partial results that
 * rewriting built and then did not use. */
static IrGraph *compact(const IrGraph *from, const IrGraph *orig, const bool *orig_live) {
  IrGraph *to = ir_graph_new(from->arena, from->name, from->batch);
  bool *live = ir_live(from);
  /* leaves the original used stay findable by name even if rewriting made
   * them unnecessary (x*0), so callers can still bind every input */
  for (int id = 0; id < orig->nodes.len; id++) {
    const IrNode *n = orig->nodes.items[id];
    if (orig_live[id] && n->name) {
      IrNode *l = ir_find_leaf(from, n->op, n->name);
      live[l->id] = true;
    }
  }
  IrNode **map = xcalloc((size_t)from->nodes.len + 1, sizeof(IrNode *));
  for (int id = 0; id < from->nodes.len; id++) {
    if (!live[id]) continue;
    const IrNode *n = from->nodes.items[id];
    IrNode *src[3] = {0};
    for (int i = 0; i < n->nsrc; i++) src[i] = map[n->src[i]->id];
    map[id] = ir_rebuild(to, n, src);
  }
  for (int i = 0; i < from->outputs.len; i++) {
    const IrOutput *o = from->outputs.items[i];
    ir_output(to, o->name, map[o->node->id]);
  }
  for (int i = 0; i < from->updates.len; i++) {
    const IrUpdate *u = from->updates.items[i];
    ir_update(to, map[u->leaf->id], map[u->value->id]);
  }
  free(map);
  free(live);
  return to;
}

IrGraph *ir_simplify(const IrGraph *g) {
  IrGraph *ng = ir_graph_new(g->arena, g->name, g->batch);
  bool *live = ir_live(g);
  IrNode **map = xcalloc((size_t)g->nodes.len + 1, sizeof(IrNode *));
  for (int id = 0; id < g->nodes.len; id++) {
    if (!live[id]) continue;
    const IrNode *n = g->nodes.items[id];
    IrNode *src[3] = {0};
    for (int i = 0; i < n->nsrc; i++) src[i] = map[n->src[i]->id];
    ng->cur_loc = n->loc;
    ng->cur_label = n->label;
    map[id] = simplify_node(ng, n, src);
  }
  ng->cur_loc = (Loc){0};
  ng->cur_label = NULL;
  for (int i = 0; i < g->outputs.len; i++) {
    const IrOutput *o = g->outputs.items[i];
    ir_output(ng, o->name, map[o->node->id]);
  }
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    ir_update(ng, map[u->leaf->id], map[u->value->id]);
  }
  IrGraph *out = compact(ng, g, live);
  free(map);
  free(live);
  return out;
}
