/* ir: shapes, the hash-consing graph builder, outputs/updates and liveness.
 *
 * In:  builder calls from lowering, gradient rules and passes.
 * Out: IrNode values owned by the graph's arena, in creation order, which is a
 *      topological order because a node's sources must exist before it.
 *
 * Invariants kept here:
 *  - every node's shape follows its op's shape rule (checked; a violation is a
 *    compiler bug and dies, because sema checks user programs first);
 *  - no two nodes of a graph have the same op, sources, shape and attributes:
 *    building one again returns the existing node, with its first provenance;
 *  - leaves are identified by op and name (CONST by the bit pattern of its
 *    value, so -0.0 and 0.0 stay distinct and all NaNs are one NaN);
 *  - attribute words that do not belong to a node's kind are zero, so
 *    comparing the whole block is a correct equality test.
 */
#include "ir.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- shapes ---- */

int64_t shape_numel(Shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.dim[i];
  return n;
}

bool shape_eq(Shape a, Shape b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; i++)
    if (a.dim[i] != b.dim[i]) return false;
  return true;
}

Shape shape_of(int ndim, const int *dims) {
  if (ndim < 0 || ndim > IR_MAX_DIMS) die("shape with %d dimensions", ndim);
  Shape s = {0};
  s.ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] < 1) die("shape dimension %d is %d", i, dims[i]);
    s.dim[i] = dims[i];
  }
  return s;
}

Shape shape_scalar(void) { return (Shape){0}; }

Shape shape_1(int d0) { return shape_of(1, &d0); }

Shape shape_2(int d0, int d1) {
  int d[2] = {d0, d1};
  return shape_of(2, d);
}

bool ir_broadcast_shape(Shape a, Shape b, Shape *out) {
  Shape r = {0};
  r.ndim = a.ndim > b.ndim ? a.ndim : b.ndim;
  for (int k = 1; k <= r.ndim; k++) {   /* k-th axis from the right */
    int da = k <= a.ndim ? a.dim[a.ndim - k] : 1;
    int db = k <= b.ndim ? b.dim[b.ndim - k] : 1;
    if (da != db && da != 1 && db != 1) return false;
    r.dim[r.ndim - k] = da == 1 ? db : da;
  }
  if (out) *out = r;
  return true;
}

char *shape_str(Shape s, char *buf) {
  int n = sprintf(buf, "[");
  for (int i = 0; i < s.ndim; i++) n += sprintf(buf + n, i ? ",%d" : "%d", s.dim[i]);
  sprintf(buf + n, "]");
  return buf;
}

/* ---- graph ---- */

IrGraph *ir_graph_new(Arena *a, const char *name, int batch) {
  IrGraph *g = NEW(a, IrGraph);
  g->arena = a;
  g->name = arena_strdup(a, name);
  g->batch = batch;
  g->nbuckets = 256;
  g->buckets = NEW_ARRAY(a, IrNode *, g->nbuckets);
  return g;
}

static uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h * 0xFF51AFD7ED558CCDull;
}

static bool is_named_leaf(IrOp op) { return op == OP_INPUT || op == OP_PARAM || op == OP_STATE; }

static uint64_t node_hash(const IrNode *n) {
  uint64_t h = mix(0, (uint64_t)n->op);
  if (is_named_leaf(n->op)) {
    for (const char *p = n->name; *p; p++) h = mix(h, (unsigned char)*p);
    return h;
  }
  for (int i = 0; i < n->nsrc; i++) h = mix(h, (uint64_t)n->src[i]->id);
  for (int i = 0; i < n->shape.ndim; i++) h = mix(h, (uint64_t)n->shape.dim[i]);
  for (int i = 0; i < IR_ATTR_WORDS; i++) h = mix(h, n->attr_words[i]);
  return h;
}

/* Same node for hash-consing purposes.  Named leaves compare by name only; a
 * different shape under the same name is then caught by the caller.  A CONST
 * compares by the bits of its value (canonical NaN: see ir_const). */
static bool node_same(const IrNode *a, const IrNode *b) {
  if (a->op != b->op) return false;
  if (is_named_leaf(a->op)) return strcmp(a->name, b->name) == 0;
  for (int i = 0; i < a->nsrc; i++)
    if (a->src[i] != b->src[i]) return false;
  return shape_eq(a->shape, b->shape) && memcmp(a->attr_words, b->attr_words, sizeof a->attr_words) == 0;
}

static void grow_buckets(IrGraph *g) {
  int n = g->nbuckets * 2;
  IrNode **b = NEW_ARRAY(g->arena, IrNode *, n);
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *node = g->nodes.items[i];
    size_t j = (size_t)node_hash(node) & (size_t)(n - 1);
    while (b[j]) j = (j + 1) & (size_t)(n - 1);
    b[j] = node;
  }
  g->buckets = b;
  g->nbuckets = n;
}

/* Appends to one of the graph's lists.  The arrays live in the arena (a grown
 * array leaves its old copy behind, at most doubling the space), so a graph
 * needs no free function: arena_free releases everything. */
static void push(IrGraph *g, Vec *v, void *item) {
  if (v->len == v->cap) {
    int cap = v->cap ? 2 * v->cap : 64;
    void **items = NEW_ARRAY(g->arena, void *, cap);
    for (int i = 0; i < v->len; i++) items[i] = v->items[i];
    v->items = items;
    v->cap = cap;
  }
  v->items[v->len++] = item;
}

static const char *kind_name(IrOp op) { return op_info[op].name; }

/* ---- sliding windows ---- */

bool ir_window_disjoint(const IrWindow *w) {
  for (int a = 0; a < 4; a++)
    if (w->pad[a] != 0) return false;
  return w->stride[0] >= w->size[0] && w->stride[1] >= w->size[1];
}

int ir_window_count(int n, int size, int stride, int pad_lo, int pad_hi, int dilation) {
  int64_t span = (int64_t)n + pad_lo + pad_hi - (int64_t)dilation * (size - 1) - 1;
  return span < 0 || stride < 1 ? 0 : (int)(span / stride + 1);
}

/* The output side [B,O,OH,OW] of window w over the input side x [B,C,H,W]:
 * O is f's first axis for a convolution (filter f [O, C/groups, KH, KW]),
 * C for a pool (f NULL).  Dies on a violation. */
static Shape window_out(const char *op, const IrWindow *w, Shape x, const Shape *f) {
  char b1[96], b2[96];
  for (int i = 0; i < 2; i++)
    if (w->size[i] < 1 || w->stride[i] < 1 || w->dilation[i] < 1 || w->pad[i] < 0 || w->pad[i + 2] < 0)
      die("%s: window size %dx%d, stride %dx%d, dilation %dx%d, padding %d,%d,%d,%d", op, w->size[0], w->size[1],
          w->stride[0], w->stride[1], w->dilation[0], w->dilation[1], w->pad[0], w->pad[1], w->pad[2], w->pad[3]);
  if (x.ndim != 4) die("%s: input %s is not [B,C,H,W]", op, shape_str(x, b1));
  Shape y = x;
  if (f) {
    int G = w->groups;
    if (f->ndim != 4 || G < 1 || x.dim[1] != f->dim[1] * G || f->dim[0] % G != 0 || f->dim[2] != w->size[0] ||
        f->dim[3] != w->size[1])
      die("%s: input %s, filter %s, groups %d", op, shape_str(x, b1), shape_str(*f, b2), G);
    y.dim[1] = f->dim[0];
  } else if (w->groups != 0 || w->dilation[0] != 1 || w->dilation[1] != 1) {
    die("%s: a pool with groups or dilation", op);
  }
  for (int i = 0; i < 2; i++) {
    y.dim[2 + i] = ir_window_count(x.dim[2 + i], w->size[i], w->stride[i], w->pad[i], w->pad[i + 2], w->dilation[i]);
    if (y.dim[2 + i] < 1) die("%s: no window fits input %s", op, shape_str(x, b1));
  }
  return y;
}

/* The shape rule of a window op: the output side from the input side, and
 * for the adjoints (whose shape is given) a check that the forward op maps
 * that shape to their source's. */
static Shape window_shape(const IrNode *t) {
  char b1[96], b2[96];
  const char *op = kind_name(t->op);
  const IrWindow *w = &t->win;
  Shape x = t->src[0]->shape, want, back = {0}, given = {0};
  switch (t->op) {
  case OP_CONV2D: return window_out(op, w, x, &t->src[1]->shape);
  case OP_CONV2D_DATA: want = t->shape, back = window_out(op, w, t->shape, &t->src[1]->shape), given = x; break;
  case OP_CONV2D_FILTER: want = t->shape, back = window_out(op, w, x, &t->shape), given = t->src[1]->shape; break;
  case OP_MAX_POOL2D:
    if (!shape_eq(x, t->src[1]->shape)) die("%s: values %s for %s", op, shape_str(t->src[1]->shape, b1), shape_str(x, b2));
    return window_out(op, w, x, NULL);
  case OP_AVG_POOL2D: return window_out(op, w, x, NULL);
  case OP_MAX_UNPOOL2D: want = x, back = window_out(op, w, x, NULL), given = t->src[1]->shape; break;
  case OP_AVG_UNPOOL2D: want = t->shape, back = window_out(op, w, t->shape, NULL), given = x; break;
  default: die("%s is not a window op", op);
  }
  if (!shape_eq(back, given))
    die("%s: %s does not give %s", op, shape_str(want, b1), shape_str(given, b2));
  return want;
}

/* The shape t's op gives it from its sources and attributes; for ops whose
 * result shape is an argument (leaves, reshape, expand, rand) t's own shape,
 * checked against the sources.  A violation is a compiler bug and dies. */
static Shape rule_shape(const IrNode *t) {
  char b1[96], b2[96];
  for (int i = 0; i < t->nsrc; i++)
    if (!t->src[i]) die("%s: source %d is NULL", kind_name(t->op), i);
  Shape s = t->shape, want = s;
  switch (op_info[t->op].kind) {
  case OPK_LEAF:
    if (t->op == OP_CONST) want = shape_scalar();
    break;
  case OPK_UNARY:
    want = t->src[0]->shape;
    break;
  case OPK_BINARY:
  case OPK_SELECT:
    want = t->src[0]->shape;
    for (int i = 1; i < t->nsrc; i++)
      if (!ir_broadcast_shape(want, t->src[i]->shape, &want))
        die("%s: shapes %s and %s do not broadcast", kind_name(t->op), shape_str(t->src[0]->shape, b1),
            shape_str(t->src[i]->shape, b2));
    break;
  case OPK_REDUCE:
    want = t->src[0]->shape;
    if (t->axes >> want.ndim) die("%s: axes 0x%x outside %s", kind_name(t->op), t->axes, shape_str(want, b1));
    for (int i = 0; i < want.ndim; i++)
      if (t->axes >> i & 1) want.dim[i] = 1;
    break;
  case OPK_MOVE:
    if (t->op == OP_RESHAPE && shape_numel(s) != shape_numel(t->src[0]->shape))
      die("reshape %s to %s changes the element count", shape_str(t->src[0]->shape, b1), shape_str(s, b2));
    if (t->op == OP_EXPAND &&
        (!ir_broadcast_shape(t->src[0]->shape, s, &want) || !shape_eq(want, s)))
      die("expand %s to %s", shape_str(t->src[0]->shape, b1), shape_str(s, b2));
    if (t->op == OP_TRANSPOSE) {
      Shape in = t->src[0]->shape;
      unsigned seen = 0;
      want = in;
      for (int k = 0; k < in.ndim; k++) {
        int p = t->perm[k];
        if (p < 0 || p >= in.ndim || (seen >> p & 1)) die("transpose: bad permutation of %s", shape_str(in, b1));
        seen |= 1u << p;
        want.dim[k] = in.dim[p];
      }
    }
    break;
  case OPK_MATMUL: {
    Shape a = t->src[0]->shape, b = t->src[1]->shape;
    if (a.ndim != 2 || b.ndim != 2) die("matmul of %s and %s: not 2-D", shape_str(a, b1), shape_str(b, b2));
    int m = a.dim[t->ta], ka = a.dim[!t->ta], kb = b.dim[t->tb], n = b.dim[!t->tb];
    if (ka != kb) die("matmul of %s%s and %s%s: inner sizes differ", shape_str(a, b1), t->ta ? "^T" : "",
                      shape_str(b, b2), t->tb ? "^T" : "");
    want = shape_2(m, n);
    break;
  }
  case OPK_RAND:
    if (t->src[0]->shape.ndim != 0) die("rand: counter must be a scalar, got %s", shape_str(t->src[0]->shape, b1));
    break;
  case OPK_WINDOW: want = window_shape(t); break;
  case OPK_RANGE: {
    Shape a = t->src[0]->shape, small = t->op == OP_PAD ? a : s, big = t->op == OP_PAD ? s : a;
    int ax = t->range.axis, st = t->range.start;
    bool ok = ax >= 0 && ax < a.ndim && s.ndim == a.ndim && st >= 0 && small.dim[ax] >= 1 &&
              st + small.dim[ax] <= big.dim[ax];
    for (int d = 0; ok && d < a.ndim; d++) ok = d == ax || a.dim[d] == s.dim[d];
    if (!ok) die("%s: axis %d from %d, %s to %s", kind_name(t->op), ax, st, shape_str(a, b1), shape_str(s, b2));
    break;
  }
  }
  return want;
}

/* Checks t's shape against its op's rule; dies on a violation. */
static void check_shape(const IrNode *t) {
  char b1[96], b2[96], b3[96];
  Shape want = rule_shape(t);
  if (!shape_eq(want, t->shape))
    die("%s: shape %s, rule gives %s (sources %s)", kind_name(t->op), shape_str(t->shape, b1), shape_str(want, b2),
        t->nsrc ? shape_str(t->src[0]->shape, b3) : "-");
}

/* The one way nodes come into existence: check, look up, or append.  t has
 * op, nsrc, src, shape and attributes filled; provenance comes from `at`. */
static IrNode *intern(IrGraph *g, const IrNode *t, Loc at, const char *label) {
  check_shape(t);
  for (int i = 0; i < t->nsrc; i++)
    if (t->src[i]->id >= g->nodes.len || g->nodes.items[t->src[i]->id] != t->src[i])
      die("%s: source %d belongs to another graph", kind_name(t->op), i);
  size_t mask = (size_t)g->nbuckets - 1;
  size_t j = (size_t)node_hash(t) & mask;
  for (; g->buckets[j]; j = (j + 1) & mask) {
    IrNode *old = g->buckets[j];
    if (!node_same(old, t)) continue;
    if (!shape_eq(old->shape, t->shape)) {
      char b1[96], b2[96];
      die("%s %s built with shape %s and %s", kind_name(t->op), t->name, shape_str(old->shape, b1),
          shape_str(t->shape, b2));
    }
    return old;
  }
  IrNode *n = NEW(g->arena, IrNode);
  *n = *t;
  /* the graph owns its names and initial values: callers may pass buffers */
  if (t->name) n->name = arena_strdup(g->arena, t->name);
  if (t->init.kind == INIT_VALUES) {
    int64_t k = shape_numel(t->shape);
    double *v = NEW_ARRAY(g->arena, double, k);
    memcpy(v, t->init.values, sizeof(double) * (size_t)k);
    n->init.values = v;
  }
  n->id = g->nodes.len;
  n->loc = at;
  n->label = label;
  push(g, &g->nodes, n);
  g->buckets[j] = n;
  if (2 * g->nodes.len > g->nbuckets) grow_buckets(g);
  return n;
}

static IrNode tmpl(IrOp op, IrNode *a, IrNode *b, IrNode *c) {
  IrNode t = {0};
  t.op = op;
  t.nsrc = op_info[op].arity;
  t.src[0] = a;
  t.src[1] = b;
  t.src[2] = c;
  return t;
}

static IrNode *make(IrGraph *g, const IrNode *t) { return intern(g, t, g->cur_loc, g->cur_label); }

static IrNode *leaf(IrGraph *g, IrOp op, const char *name, Shape s, IrInit init) {
  IrNode t = tmpl(op, NULL, NULL, NULL);
  t.name = name;
  t.shape = s;
  t.init = init;
  return make(g, &t);
}

IrNode *ir_input(IrGraph *g, const char *name, Shape s) { return leaf(g, OP_INPUT, name, s, (IrInit){0}); }

IrNode *ir_param(IrGraph *g, const char *name, Shape s, IrInit init) { return leaf(g, OP_PARAM, name, s, init); }

IrNode *ir_state(IrGraph *g, const char *name, Shape s, IrInit init) { return leaf(g, OP_STATE, name, s, init); }

IrNode *ir_const(IrGraph *g, double v) {
  IrNode t = tmpl(OP_CONST, NULL, NULL, NULL);
  t.value = isnan(v) ? NAN : v;
  return make(g, &t);
}

/* The result shape of an elementwise op, or a death naming the op. */
static Shape bcast(IrOp op, Shape a, Shape b) {
  Shape r;
  if (!ir_broadcast_shape(a, b, &r)) {
    char b1[96], b2[96];
    die("%s: shapes %s and %s do not broadcast", kind_name(op), shape_str(a, b1), shape_str(b, b2));
  }
  return r;
}

IrNode *ir_unary(IrGraph *g, IrOp op, IrNode *a) {
  if (op_info[op].kind != OPK_UNARY) die("ir_unary with %s", kind_name(op));
  IrNode t = tmpl(op, a, NULL, NULL);
  t.shape = a->shape;
  return make(g, &t);
}

IrNode *ir_binary(IrGraph *g, IrOp op, IrNode *a, IrNode *b) {
  if (op_info[op].kind != OPK_BINARY) die("ir_binary with %s", kind_name(op));
  IrNode t = tmpl(op, a, b, NULL);
  t.shape = bcast(op, a->shape, b->shape);
  return make(g, &t);
}

IrNode *ir_where(IrGraph *g, IrNode *c, IrNode *a, IrNode *b) {
  IrNode t = tmpl(OP_WHERE, c, a, b);
  t.shape = bcast(OP_WHERE, bcast(OP_WHERE, c->shape, a->shape), b->shape);
  return make(g, &t);
}

IrNode *ir_reduce(IrGraph *g, IrOp op, IrNode *a, unsigned axes) {
  if (op_info[op].kind != OPK_REDUCE) die("ir_reduce with %s", kind_name(op));
  IrNode t = tmpl(op, a, NULL, NULL);
  t.axes = axes;
  t.shape = a->shape;
  for (int i = 0; i < a->shape.ndim; i++)
    if (axes >> i & 1) t.shape.dim[i] = 1;
  return make(g, &t);
}

IrNode *ir_reshape(IrGraph *g, IrNode *a, Shape s) {
  IrNode t = tmpl(OP_RESHAPE, a, NULL, NULL);
  t.shape = s;
  return make(g, &t);
}

IrNode *ir_expand(IrGraph *g, IrNode *a, Shape s) {
  IrNode t = tmpl(OP_EXPAND, a, NULL, NULL);
  t.shape = s;
  return make(g, &t);
}

IrNode *ir_transpose(IrGraph *g, IrNode *a, const int *perm) {
  IrNode t = tmpl(OP_TRANSPOSE, a, NULL, NULL);
  t.shape = a->shape;
  for (int k = 0; k < a->shape.ndim; k++) {
    t.perm[k] = perm[k];
    if (perm[k] >= 0 && perm[k] < a->shape.ndim) t.shape.dim[k] = a->shape.dim[perm[k]];
  }
  return make(g, &t);
}

IrNode *ir_matmul(IrGraph *g, IrNode *a, IrNode *b, bool ta, bool tb) {
  IrNode t = tmpl(OP_MATMUL, a, b, NULL);
  t.ta = ta;
  t.tb = tb;
  if (a->shape.ndim == 2 && b->shape.ndim == 2) t.shape = shape_2(a->shape.dim[ta], b->shape.dim[!tb]);
  return make(g, &t);
}

IrNode *ir_rand_from(IrGraph *g, IrNode *counter, Shape s, uint32_t seed, uint32_t first) {
  IrNode t = tmpl(OP_RAND, counter, NULL, NULL);
  t.shape = s;
  t.seed = seed;
  t.first = first;
  return make(g, &t);
}

IrNode *ir_rand(IrGraph *g, IrNode *counter, Shape s, uint32_t seed) { return ir_rand_from(g, counter, s, seed, 0); }

IrNode *ir_window(IrGraph *g, IrOp op, IrNode *a, IrNode *b, IrWindow win, Shape s) {
  if (op_info[op].kind != OPK_WINDOW) die("ir_window with %s", kind_name(op));
  IrNode t = tmpl(op, a, op_info[op].arity > 1 ? b : NULL, NULL);
  t.win = win;
  if (op == OP_CONV2D || op == OP_CONV2D_DATA || op == OP_CONV2D_FILTER) {
    const Shape *f = op == OP_CONV2D_FILTER ? &s : &b->shape;
    if (f->ndim == 4) t.win.size[0] = f->dim[2], t.win.size[1] = f->dim[3];
  } else {
    t.win.groups = 0;
  }
  t.shape = s;
  t.shape = rule_shape(&t);
  return make(g, &t);
}

static IrNode *range_op(IrGraph *g, IrOp op, IrNode *a, int axis, int start, int n) {
  IrNode t = tmpl(op, a, NULL, NULL);
  t.range.axis = axis;
  t.range.start = start;
  t.shape = a->shape;
  if (axis >= 0 && axis < a->shape.ndim) t.shape.dim[axis] = n;
  return make(g, &t);
}

IrNode *ir_slice(IrGraph *g, IrNode *a, int axis, int start, int n) { return range_op(g, OP_SLICE, a, axis, start, n); }

IrNode *ir_pad(IrGraph *g, IrNode *a, int axis, int start, int n) { return range_op(g, OP_PAD, a, axis, start, n); }

IrNode *ir_rebuild(IrGraph *g, const IrNode *n, IrNode *const *src) {
  IrNode t = tmpl(n->op, NULL, NULL, NULL);
  for (int i = 0; i < n->nsrc; i++) t.src[i] = src[i];
  t.shape = n->shape;
  if (is_named_leaf(n->op)) {
    t.name = n->name;
    t.init = n->init;
  } else {
    /* same attributes; the shape follows from the (possibly new) sources */
    memcpy(t.attr_words, n->attr_words, sizeof t.attr_words);
    t.shape = rule_shape(&t);
  }
  return intern(g, &t, n->loc, n->label);
}

/* ---- outputs and updates ---- */

void ir_output(IrGraph *g, const char *name, IrNode *node) {
  if (ir_find_output(g, name)) die("output %s defined twice", name);
  IrOutput *o = NEW(g->arena, IrOutput);
  o->name = arena_strdup(g->arena, name);
  o->node = node;
  push(g, &g->outputs, o);
}

void ir_update(IrGraph *g, IrNode *leaf_node, IrNode *value) {
  char b1[96], b2[96];
  if (leaf_node->op != OP_PARAM && leaf_node->op != OP_STATE) die("update of a %s", kind_name(leaf_node->op));
  if (!shape_eq(leaf_node->shape, value->shape))
    die("update of %s %s with %s", leaf_node->name, shape_str(leaf_node->shape, b1), shape_str(value->shape, b2));
  for (int i = 0; i < g->updates.len; i++)
    if (((IrUpdate *)g->updates.items[i])->leaf == leaf_node) die("%s updated twice", leaf_node->name);
  IrUpdate *u = NEW(g->arena, IrUpdate);
  u->leaf = leaf_node;
  u->value = value;
  push(g, &g->updates, u);
}

IrNode *ir_find_output(const IrGraph *g, const char *name) {
  for (int i = 0; i < g->outputs.len; i++) {
    IrOutput *o = g->outputs.items[i];
    if (strcmp(o->name, name) == 0) return o->node;
  }
  return NULL;
}

IrNode *ir_find_leaf(const IrGraph *g, IrOp op, const char *name) {
  if (!is_named_leaf(op)) die("ir_find_leaf with %s", kind_name(op));
  IrNode t = tmpl(op, NULL, NULL, NULL);
  t.name = name;
  size_t mask = (size_t)g->nbuckets - 1;
  for (size_t j = (size_t)node_hash(&t) & mask; g->buckets[j]; j = (j + 1) & mask)
    if (node_same(g->buckets[j], &t)) return g->buckets[j];
  return NULL;
}

bool *ir_live(const IrGraph *g) {
  bool *live = xcalloc((size_t)g->nodes.len + 1, sizeof(bool));
  for (int i = 0; i < g->outputs.len; i++) live[((IrOutput *)g->outputs.items[i])->node->id] = true;
  for (int i = 0; i < g->updates.len; i++) {
    IrUpdate *u = g->updates.items[i];
    live[u->leaf->id] = live[u->value->id] = true;
  }
  for (int id = g->nodes.len - 1; id >= 0; id--) {
    if (!live[id]) continue;
    IrNode *n = g->nodes.items[id];
    for (int i = 0; i < n->nsrc; i++) live[n->src[i]->id] = true;
  }
  return live;
}
