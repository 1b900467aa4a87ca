/* eval: the reference evaluator, plain loops in double.
 *
 * In:  a graph and vals[id] buffers for the leaves its live nodes use.
 * Out: vals[id] for every other live node, allocated in the scratch arena,
 *      and for every dead node whose leaves have values.
 *
 * It is the oracle the generated code and the gradient rules are checked
 * against, so it favours the obvious over the fast: every element's index is
 * decoded into coordinates and mapped to its sources.  Elementwise and
 * reduction arithmetic comes from op_info's scalar rules, the same table the
 * gradient rules sit in.  A buffer already present on entry is taken as the
 * node's value and not recomputed: finite-difference checks perturb an
 * intermediate value that way.
 */
#include <math.h>
#include <stdlib.h>

#include "ir.h"

/* Strides of `src` laid against the axes of `out` (right-aligned, numpy
 * style): a missing or size-1 source axis has stride 0. */
static void bcast_strides(Shape src, Shape out, int64_t *st) {
  int64_t s = 1;
  for (int k = out.ndim - 1, j = src.ndim - 1; k >= 0; k--, j--) {
    if (j >= 0 && src.dim[j] != 1) {
      st[k] = s;
      s *= src.dim[j];
    } else {
      st[k] = 0;
      if (j >= 0) s *= src.dim[j];
    }
  }
}

/* Flat index into a buffer with strides st of the element at coordinates c. */
static int64_t at(const int64_t *st, const int *c, int ndim) {
  int64_t i = 0;
  for (int k = 0; k < ndim; k++) i += st[k] * c[k];
  return i;
}

/* Advances row-major coordinates c within shape s. */
static void next_coord(int *c, Shape s) {
  for (int k = s.ndim - 1; k >= 0; k--) {
    if (++c[k] < s.dim[k]) return;
    c[k] = 0;
  }
}

static void eval_elementwise(const IrNode *n, double **vals, double *out) {
  int64_t st[3][IR_MAX_DIMS];
  const double *in[3] = {0};
  for (int i = 0; i < n->nsrc; i++) {
    bcast_strides(n->src[i]->shape, n->shape, st[i]);
    in[i] = vals[n->src[i]->id];
  }
  double (*f)(double, double, double) = op_info[n->op].scalar;
  int c[IR_MAX_DIMS] = {0};
  int64_t total = shape_numel(n->shape);
  for (int64_t e = 0; e < total; e++, next_coord(c, n->shape)) {
    double x[3] = {0, 0, 0};
    for (int i = 0; i < n->nsrc; i++) x[i] = in[i][at(st[i], c, n->shape.ndim)];
    out[e] = f(x[0], x[1], x[2]);
  }
}

static void eval_reduce(const IrNode *n, double **vals, double *out) {
  const OpInfo *oi = &op_info[n->op];
  Shape in = n->src[0]->shape;
  const double *a = vals[n->src[0]->id];
  int64_t st[IR_MAX_DIMS];
  bcast_strides(n->shape, in, st);   /* output index of each input element */
  for (int64_t e = 0; e < shape_numel(n->shape); e++) out[e] = oi->identity;
  int c[IR_MAX_DIMS] = {0};
  for (int64_t e = 0; e < shape_numel(in); e++, next_coord(c, in)) {
    int64_t o = at(st, c, in.ndim);
    out[o] = oi->scalar(out[o], a[e], 0);
  }
}

static void eval_transpose(const IrNode *n, double **vals, double *out) {
  Shape in = n->src[0]->shape;
  int64_t inst[IR_MAX_DIMS], st[IR_MAX_DIMS];
  int64_t s = 1;
  for (int k = in.ndim - 1; k >= 0; k--) {
    inst[k] = s;
    s *= in.dim[k];
  }
  for (int k = 0; k < in.ndim; k++) st[k] = inst[n->perm[k]];   /* out axis k walks input axis perm[k] */
  const double *a = vals[n->src[0]->id];
  int c[IR_MAX_DIMS] = {0};
  for (int64_t e = 0; e < shape_numel(n->shape); e++, next_coord(c, n->shape)) out[e] = a[at(st, c, in.ndim)];
}

static void eval_matmul(const IrNode *n, double **vals, double *out) {
  const double *a = vals[n->src[0]->id], *b = vals[n->src[1]->id];
  Shape sa = n->src[0]->shape, sb = n->src[1]->shape;
  int m = n->shape.dim[0], nn = n->shape.dim[1], kk = sa.dim[!n->ta];
  /* element (i,k) of A and (k,j) of B in their stored layouts */
  int64_t ai = n->ta ? 1 : sa.dim[1], ak = n->ta ? sa.dim[1] : 1;
  int64_t bk = n->tb ? 1 : sb.dim[1], bj = n->tb ? sb.dim[1] : 1;
  /* each out[i][j] is 0 + a[i][0] b[0][j] + a[i][1] b[1][j] + ..., in k's
   * order; k outside j walks B's rows in memory order (unless B is transposed) */
  for (int i = 0; i < m; i++) {
    double *row = out + (int64_t)i * nn;
    for (int j = 0; j < nn; j++) row[j] = 0;
    for (int k = 0; k < kk; k++) {
      double aik = a[i * ai + k * ak];
      const double *bk_row = b + k * bk;
      for (int j = 0; j < nn; j++) row[j] += aik * bk_row[j * bj];
    }
  }
}

/* ---- sliding windows ---- */

/* A window op's geometry: the input side X [B,C,H,W], the output side Y
 * [B,O,OH,OW], the filter [O,Cg,KH,KW] of a convolution. */
typedef struct {
  const IrWindow *w;
  int B, C, H, W, O, OH, OW, G;
} Geo;

static Geo geometry(const IrNode *n) {
  bool backward = n->op == OP_CONV2D_DATA || n->op == OP_AVG_UNPOOL2D;
  Shape x = backward ? n->shape : n->src[0]->shape;
  Shape y = n->op == OP_CONV2D_FILTER || n->op == OP_MAX_UNPOOL2D ? n->src[1]->shape
            : backward                                           ? n->src[0]->shape
                                                                 : n->shape;
  return (Geo){&n->win, x.dim[0], x.dim[1], x.dim[2], x.dim[3], y.dim[1], y.dim[2], y.dim[3], n->win.groups};
}

/* Flat index into X of tap (p, q) of window (b, c, i, j), or -1 outside. */
static int64_t tap(const Geo *g, int b, int c, int i, int j, int p, int q) {
  int h = i * g->w->stride[0] - g->w->pad[0] + p * g->w->dilation[0];
  int v = j * g->w->stride[1] - g->w->pad[1] + q * g->w->dilation[1];
  if (h < 0 || h >= g->H || v < 0 || v >= g->W) return -1;
  return (((int64_t)b * g->C + c) * g->H + h) * g->W + v;
}

/* conv2d and its adjoints: one loop over (output, input channel, tap)
 * triples, in this order for every op, so each sum has one fixed order; the
 * row of a tap is found once per (channel, filter row). */
static void eval_conv(const IrNode *n, double **vals, double *out) {
  Geo g = geometry(n);
  const IrWindow *w = &n->win;
  const double *a = vals[n->src[0]->id], *b = vals[n->src[1]->id];
  int Cg = g.C / g.G, Og = g.O / g.G, KH = w->size[0], KW = w->size[1];
  for (int64_t e = 0; e < shape_numel(n->shape); e++) out[e] = 0;
  for (int bi = 0; bi < g.B; bi++)
    for (int o = 0; o < g.O; o++)
      for (int i = 0; i < g.OH; i++)
        for (int j = 0; j < g.OW; j++) {
          int64_t yi = (((int64_t)bi * g.O + o) * g.OH + i) * g.OW + j;
          int v0 = j * w->stride[1] - w->pad[1];
          double y = 0;   /* conv2d's sum, in a register */
          for (int c = 0; c < Cg; c++) {
            int64_t plane = (int64_t)bi * g.C + o / Og * Cg + c;
            for (int p = 0; p < KH; p++) {
              int h = i * w->stride[0] - w->pad[0] + p * w->dilation[0];
              if (h < 0 || h >= g.H) continue;
              int64_t row = (plane * g.H + h) * g.W, wrow = (((int64_t)o * Cg + c) * KH + p) * KW;
              for (int q = 0; q < KW; q++) {
                int v = v0 + q * w->dilation[1];
                if (v < 0 || v >= g.W) continue;
                int64_t xi = row + v, wi = wrow + q;
                if (n->op == OP_CONV2D) y += a[xi] * b[wi];
                else if (n->op == OP_CONV2D_DATA) out[xi] += a[yi] * b[wi];
                else out[wi] += a[xi] * b[yi];
              }
            }
          }
          if (n->op == OP_CONV2D) out[yi] = y;
        }
}

/* Index into X of the first maximum of a's window (b, c, i, j): the first
 * tap inside the input unless a later one is larger or NaN (PyTorch's rule). */
static int64_t window_argmax(const Geo *g, const double *a, int b, int c, int i, int j) {
  int64_t best = -1;
  for (int p = 0; p < g->w->size[0]; p++)
    for (int q = 0; q < g->w->size[1]; q++) {
      int64_t xi = tap(g, b, c, i, j, p, q);
      if (xi >= 0 && (best < 0 || a[xi] > a[best] || isnan(a[xi]))) best = xi;
    }
  return best;
}

/* The pools and their adjoints: per window, its value or its spread. */
static void eval_pool(const IrNode *n, double **vals, double *out) {
  Geo g = geometry(n);
  const double *a = vals[n->src[0]->id], *b = n->nsrc > 1 ? vals[n->src[1]->id] : NULL;
  double inv = 1.0 / (n->win.size[0] * n->win.size[1]);
  bool unpool = n->op == OP_MAX_UNPOOL2D || n->op == OP_AVG_UNPOOL2D;
  for (int64_t e = 0; unpool && e < shape_numel(n->shape); e++) out[e] = 0;
  for (int bi = 0; bi < g.B; bi++)
    for (int c = 0; c < g.C; c++)
      for (int i = 0; i < g.OH; i++)
        for (int j = 0; j < g.OW; j++) {
          int64_t yi = (((int64_t)bi * g.C + c) * g.OH + i) * g.OW + j;
          if (n->op == OP_MAX_POOL2D) out[yi] = b[window_argmax(&g, a, bi, c, i, j)];
          if (n->op == OP_MAX_UNPOOL2D) out[window_argmax(&g, a, bi, c, i, j)] += b[yi];
          if (n->op == OP_AVG_POOL2D) out[yi] = 0;
          for (int p = 0; p < n->win.size[0] && n->op != OP_MAX_POOL2D && n->op != OP_MAX_UNPOOL2D; p++)
            for (int q = 0; q < n->win.size[1]; q++) {
              int64_t xi = tap(&g, bi, c, i, j, p, q);
              if (xi < 0) continue;
              if (n->op == OP_AVG_POOL2D) out[yi] += a[xi] * inv;
              else out[xi] += a[yi] * inv;
            }
        }
}

/* The counter as the generator sees it: the scalar's value taken modulo 2^32
 * (NaN counts as 0), so no value is out of range for the conversion. */
static uint32_t rand_counter(double v) {
  if (isnan(v)) return 0;
  double m = fmod(floor(v), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return (uint32_t)m;
}

/* slice and pad: every element of the smaller side and its place in the larger. */
static void eval_range(const IrNode *n, double **vals, double *out) {
  bool pad = n->op == OP_PAD;
  Shape small = pad ? n->src[0]->shape : n->shape, big = pad ? n->shape : n->src[0]->shape;
  const double *a = vals[n->src[0]->id];
  int64_t st[IR_MAX_DIMS], s = 1;
  for (int k = big.ndim - 1; k >= 0; k--) st[k] = s, s *= big.dim[k];
  for (int64_t e = 0; pad && e < s; e++) out[e] = 0;
  int c[IR_MAX_DIMS] = {0};
  for (int64_t e = 0; e < shape_numel(small); e++, next_coord(c, small)) {
    int64_t b = at(st, c, big.ndim) + st[n->range.axis] * n->range.start;
    if (pad) out[b] = a[e];
    else out[e] = a[b];
  }
}

static void eval_node(const IrNode *n, double **vals, double *out) {
  int64_t total = shape_numel(n->shape);
  switch (op_info[n->op].kind) {
  case OPK_LEAF: out[0] = n->value; return;   /* CONST; named leaves come from the caller */
  case OPK_UNARY:
  case OPK_BINARY:
  case OPK_SELECT: eval_elementwise(n, vals, out); return;
  case OPK_REDUCE: eval_reduce(n, vals, out); return;
  case OPK_MOVE:
    if (n->op == OP_TRANSPOSE) {
      eval_transpose(n, vals, out);
    } else if (n->op == OP_RESHAPE) {
      for (int64_t e = 0; e < total; e++) out[e] = vals[n->src[0]->id][e];
    } else {   /* expand: a broadcast copy */
      int64_t st[IR_MAX_DIMS];
      bcast_strides(n->src[0]->shape, n->shape, st);
      int c[IR_MAX_DIMS] = {0};
      for (int64_t e = 0; e < total; e++, next_coord(c, n->shape)) out[e] = vals[n->src[0]->id][at(st, c, n->shape.ndim)];
    }
    return;
  case OPK_MATMUL: eval_matmul(n, vals, out); return;
  case OPK_WINDOW:
    if (n->op == OP_CONV2D || n->op == OP_CONV2D_DATA || n->op == OP_CONV2D_FILTER) eval_conv(n, vals, out);
    else eval_pool(n, vals, out);
    return;
  case OPK_RANGE: eval_range(n, vals, out); return;
  case OPK_RAND: {
    uint32_t counter = rand_counter(vals[n->src[0]->id][0]);
    for (int64_t e = 0; e < total; e++) out[e] = ir_rand_uniform(n->seed, counter, n->first + (uint32_t)e);
    return;
  }
  }
  die("ir_eval: unknown op kind");
}

void ir_eval(const IrGraph *g, double **vals, Arena *scratch) {
  bool *live = ir_live(g);
  /* missing[id]: a dead node that cannot be computed because a leaf it uses
   * has no value; dead nodes are otherwise evaluated too, so callers can read
   * nodes they built but did not make outputs (a gradient being checked) */
  bool *missing = xcalloc((size_t)g->nodes.len + 1, sizeof(bool));
  for (int id = 0; id < g->nodes.len; id++) {
    if (vals[id]) continue;
    const IrNode *n = g->nodes.items[id];
    bool named_leaf = op_info[n->op].kind == OPK_LEAF && n->op != OP_CONST;
    for (int i = 0; i < n->nsrc; i++) missing[id] = missing[id] || missing[n->src[i]->id];
    if (named_leaf || missing[id]) {
      if (live[id]) die("ir_eval: no value for %s %s", op_info[n->op].name, n->name ? n->name : "");
      missing[id] = true;
      continue;
    }
    vals[id] = NEW_ARRAY(scratch, double, shape_numel(n->shape));
    eval_node(n, vals, vals[id]);
  }
  free(missing);
  free(live);
}
