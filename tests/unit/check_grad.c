/* check_grad: every op's gradient rule against central finite differences.
 *
 * The main test loops over the whole op table.  Each op needs a row in
 * `cases` (its input domains and which sources are differentiable) and its
 * kind needs shape variants, or the test fails: adding an op to ops.def
 * forces a gradient test for it.  For each variant the loss is
 * sum(op(...) * R) with fixed pseudo-random R, its gradient is built with
 * grad_build, evaluated with ir_eval, and compared element by element with
 * (loss(x+h) - loss(x-h)) / 2h in double precision.  Sources that are not
 * differentiable (conditions, counters, sign/cmplt inputs) must get exact
 * zeros; leaves must have no rule.  Domains keep inputs away from kinks, ties
 * and invalid regions.  Then the course's hand-derived examples.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "grad.h"
#include "ir.h"

typedef enum {
  D_ANY,        /* uniform in [-2, 2] */
  D_POS,        /* uniform in [0.5, 2]: log, sqrt, pow bases */
  D_NONZERO,    /* +-[0.5, 2]: abs, sign, divisors */
  D_LOWFRAC,    /* integer in [-2, 1] + [0.05, 0.4]: never within 0.1 of a D_HIGHFRAC value */
  D_HIGHFRAC,   /* integer in [-2, 1] + [0.55, 0.9] */
  D_MASK,       /* 0 or 1: where conditions */
  D_COUNTER,    /* a small whole number: rand counters */
} Domain;

typedef enum {
  R_ABSENT,     /* leaves: op_info[op].grad is NULL */
  R_FD,         /* differentiable sources checked by finite differences */
} RuleCheck;

static const struct {
  IrOp op;         /* the op under test */
  RuleCheck check; /* what its rule must do */
  Domain dom[3];   /* per source */
  bool diff[3];    /* per source: differentiable, else its gradient must be exactly 0 */
} cases[] = {
    {OP_INPUT, R_ABSENT, {0}, {0}},
    {OP_PARAM, R_ABSENT, {0}, {0}},
    {OP_STATE, R_ABSENT, {0}, {0}},
    {OP_CONST, R_ABSENT, {0}, {0}},
    {OP_NEG, R_FD, {D_ANY}, {1}},
    {OP_EXP, R_FD, {D_ANY}, {1}},
    {OP_EXPM1, R_FD, {D_ANY}, {1}},
    {OP_LOG, R_FD, {D_POS}, {1}},
    {OP_SQRT, R_FD, {D_POS}, {1}},
    {OP_ABS, R_FD, {D_NONZERO}, {1}},
    {OP_SIGN, R_FD, {D_NONZERO}, {0}},
    {OP_SIN, R_FD, {D_ANY}, {1}},
    {OP_COS, R_FD, {D_ANY}, {1}},
    {OP_TANH, R_FD, {D_ANY}, {1}},
    {OP_SOFTPLUS, R_FD, {D_ANY}, {1}},
    {OP_ERFC, R_FD, {D_ANY}, {1}},
    {OP_ADD, R_FD, {D_ANY, D_ANY}, {1, 1}},
    {OP_SUB, R_FD, {D_ANY, D_ANY}, {1, 1}},
    {OP_MUL, R_FD, {D_ANY, D_ANY}, {1, 1}},
    {OP_DIV, R_FD, {D_ANY, D_NONZERO}, {1, 1}},
    {OP_POW, R_FD, {D_POS, D_ANY}, {1, 1}},
    {OP_POW1M, R_FD, {D_POS, D_ANY}, {1, 1}},
    {OP_MAX, R_FD, {D_LOWFRAC, D_HIGHFRAC}, {1, 1}},
    {OP_MIN, R_FD, {D_HIGHFRAC, D_LOWFRAC}, {1, 1}},
    {OP_CMPLT, R_FD, {D_LOWFRAC, D_HIGHFRAC}, {0, 0}},
    {OP_WHERE, R_FD, {D_MASK, D_ANY, D_ANY}, {0, 1, 1}},
    {OP_SUM, R_FD, {D_ANY}, {1}},
    {OP_RMAX, R_FD, {D_ANY}, {1}},
    {OP_RMIN, R_FD, {D_ANY}, {1}},
    {OP_LOGSUMEXP, R_FD, {D_ANY}, {1}},
    {OP_RESHAPE, R_FD, {D_ANY}, {1}},
    {OP_EXPAND, R_FD, {D_ANY}, {1}},
    {OP_TRANSPOSE, R_FD, {D_ANY}, {1}},
    {OP_SLICE, R_FD, {D_ANY}, {1}},
    {OP_PAD, R_FD, {D_ANY}, {1}},
    {OP_MATMUL, R_FD, {D_ANY, D_ANY}, {1, 1}},
    {OP_RAND, R_FD, {D_COUNTER}, {0}},
    {OP_CONV2D, R_FD, {D_ANY, D_ANY}, {1, 1}},
    {OP_CONV2D_DATA, R_FD, {D_ANY, D_ANY}, {1, 1}},
    {OP_CONV2D_FILTER, R_FD, {D_ANY, D_ANY}, {1, 1}},
    {OP_MAX_POOL2D, R_FD, {D_ANY, D_ANY}, {0, 1}},
    {OP_MAX_UNPOOL2D, R_FD, {D_ANY, D_ANY}, {0, 1}},
    {OP_AVG_POOL2D, R_FD, {D_ANY}, {1}},
    {OP_AVG_UNPOOL2D, R_FD, {D_ANY}, {1}},
};

/* One shape configuration of an op. */
typedef struct {
  Shape in[3];               /* source shapes */
  Shape out;                 /* RESHAPE/EXPAND/RAND: the result shape */
  unsigned axes;             /* REDUCE */
  int perm[IR_MAX_DIMS];     /* TRANSPOSE */
  bool ta, tb;               /* MATMUL */
  IrWindow win;              /* WINDOW */
  int axis, start;           /* RANGE (out: the result shape) */
} Variant;

enum { MAX_VARIANTS = 8 };   /* shape variants per op at most */

static Shape S(int n, int a, int b, int c) {
  int d[3] = {a, b, c};
  return shape_of(n, d);
}

/* A window geometry: input [B,C,H,W], filter [O,C/groups,KH,KW] (O 0 for
 * the pools, whose window is size), stride, padding, dilation, groups. */
typedef struct {
  int x[4], o, k[2], stride[2], pad[4], dil[2], groups;
} WinCase;

static const WinCase conv_cases[] = {
    {{2, 3, 5, 5}, 4, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},   /* "same" 3x3 */
    {{1, 4, 7, 6}, 6, {3, 2}, {2, 1}, {1, 0, 0, 1}, {1, 2}, 2},   /* strides, dilation, groups */
    {{2, 2, 6, 6}, 2, {3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1},   /* stride 2, no padding */
    {{1, 3, 4, 4}, 3, {2, 2}, {1, 1}, {0, 0, 1, 1}, {1, 1}, 3},   /* depthwise, even kernel padded after */
    {{1, 2, 7, 7}, 2, {3, 3}, {3, 2}, {2, 1, 1, 2}, {2, 3}, 1},   /* large dilation, uneven padding */
};
static const WinCase pool_cases[] = {
    {{2, 2, 4, 4}, 0, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0},   /* the usual 2x2 */
    {{1, 2, 5, 5}, 0, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},   /* overlapping, padded */
    {{1, 1, 5, 7}, 0, {2, 3}, {1, 2}, {0, 1, 0, 1}, {1, 1}, 0},   /* stride below the size */
};

static IrWindow window_of(const WinCase *c) {
  IrWindow w = {.groups = c->groups};
  for (int i = 0; i < 2; i++) w.size[i] = c->k[i], w.stride[i] = c->stride[i], w.dilation[i] = c->dil[i];
  for (int i = 0; i < 4; i++) w.pad[i] = c->pad[i];
  return w;
}

/* The variants of a window op: its sources and result shape from each case. */
static int window_variants(IrOp op, Variant *v) {
  bool conv = op == OP_CONV2D || op == OP_CONV2D_DATA || op == OP_CONV2D_FILTER;
  const WinCase *cs = conv ? conv_cases : pool_cases;
  int n = conv ? (int)COUNT_OF(conv_cases) : (int)COUNT_OF(pool_cases);
  for (int i = 0; i < n; i++) {
    const WinCase *c = &cs[i];
    Shape x = shape_of(4, c->x), y = x;
    Shape w = shape_of(4, (int[]){c->o ? c->o : 1, c->groups ? c->x[1] / c->groups : 1, c->k[0], c->k[1]});
    if (conv) y.dim[1] = c->o;
    for (int a = 0; a < 2; a++)
      y.dim[2 + a] = ir_window_count(x.dim[2 + a], c->k[a], c->stride[a], c->pad[a], c->pad[a + 2], c->dil[a]);
    v[i].win = window_of(c);
    Shape in[][2] = {[OP_CONV2D - OP_CONV2D] = {x, w},  [OP_CONV2D_DATA - OP_CONV2D] = {y, w},
                     [OP_CONV2D_FILTER - OP_CONV2D] = {x, y}, [OP_MAX_POOL2D - OP_CONV2D] = {x, x},
                     [OP_MAX_UNPOOL2D - OP_CONV2D] = {x, y}, [OP_AVG_POOL2D - OP_CONV2D] = {x},
                     [OP_AVG_UNPOOL2D - OP_CONV2D] = {y}};
    v[i].in[0] = in[op - OP_CONV2D][0];
    v[i].in[1] = in[op - OP_CONV2D][1];
    v[i].out = op == OP_CONV2D_FILTER ? w : x;   /* the given shape of the adjoints */
  }
  return n;
}

/* The shape variants of op; 0 when the test has none for it (a failure). */
static int variants(IrOp op, Variant *v) {
  memset(v, 0, sizeof(Variant) * MAX_VARIANTS);
  Shape sc = shape_scalar(), m34 = S(2, 3, 4, 0), v4 = S(1, 4, 0, 0), c31 = S(2, 3, 1, 0), r14 = S(2, 1, 4, 0);
  Shape t213 = S(3, 2, 1, 3), t234 = S(3, 2, 3, 4);
  switch (op_info[op].kind) {
  case OPK_LEAF: return 1;
  case OPK_UNARY:
    v[0].in[0] = m34, v[1].in[0] = sc, v[2].in[0] = t213;
    return 3;
  case OPK_BINARY: {
    Shape pairs[][2] = {{m34, v4}, {c31, r14}, {sc, m34}, {m34, sc}, {m34, m34}, {sc, sc}, {t213, c31}};
    for (int i = 0; i < (int)COUNT_OF(pairs); i++) v[i].in[0] = pairs[i][0], v[i].in[1] = pairs[i][1];
    return (int)COUNT_OF(pairs);
  }
  case OPK_SELECT: {
    Shape tri[][3] = {{m34, m34, m34}, {v4, c31, m34}, {m34, sc, v4}, {c31, r14, sc}};
    for (int i = 0; i < (int)COUNT_OF(tri); i++)
      for (int k = 0; k < 3; k++) v[i].in[k] = tri[i][k];
    return (int)COUNT_OF(tri);
  }
  case OPK_REDUCE: {
    unsigned axes[] = {1, 2, 4, 5, 7, 6};
    for (int i = 0; i < (int)COUNT_OF(axes); i++) v[i].in[0] = t234, v[i].axes = axes[i];
    v[6].in[0] = v4, v[6].axes = 1;
    v[7].in[0] = sc, v[7].axes = 0;
    return 8;
  }
  case OPK_MOVE:
    if (op == OP_RESHAPE) {
      v[0].in[0] = m34, v[0].out = S(2, 2, 6, 0);
      v[1].in[0] = t234, v[1].out = S(1, 24, 0, 0);
      v[2].in[0] = sc, v[2].out = S(2, 1, 1, 0);
      return 3;
    }
    if (op == OP_EXPAND) {
      v[0].in[0] = v4, v[0].out = m34;
      v[1].in[0] = c31, v[1].out = m34;
      v[2].in[0] = sc, v[2].out = S(2, 2, 2, 0);
      v[3].in[0] = S(2, 1, 3, 0), v[3].out = S(3, 2, 2, 3);
      v[4].in[0] = t213, v[4].out = S(3, 2, 4, 3);
      return 5;
    }
    if (op == OP_TRANSPOSE) {
      int perms[][3] = {{1, 0, 0}, {2, 0, 1}, {1, 2, 0}, {0, 2, 1}};
      v[0].in[0] = m34;
      for (int i = 1; i < 4; i++) v[i].in[0] = t234;
      for (int i = 0; i < 4; i++) memcpy(v[i].perm, perms[i], sizeof perms[i]);
      return 4;
    }
    return 0;
  case OPK_MATMUL:
    for (int i = 0; i < 4; i++) {
      v[i].ta = i & 1, v[i].tb = i >> 1 & 1;
      v[i].in[0] = v[i].ta ? S(2, 4, 3, 0) : m34;     /* A is [3,4] */
      v[i].in[1] = v[i].tb ? S(2, 2, 4, 0) : S(2, 4, 2, 0);   /* B is [4,2] */
    }
    return 4;
  case OPK_RAND:
    v[0].in[0] = sc, v[0].out = m34;
    v[1].in[0] = sc, v[1].out = sc;
    return 2;
  case OPK_WINDOW: return window_variants(op, v);
  case OPK_RANGE: {
    /* the larger side, the axis, where the smaller starts, its length */
    static const struct { int n, d[3], axis, start, len; } r[] = {
        {2, {3, 4}, 1, 1, 2}, {2, {3, 4}, 0, 0, 1}, {3, {2, 3, 4}, 2, 3, 1}, {3, {2, 3, 4}, 0, 1, 1},
        {1, {5}, 0, 2, 3},    {3, {2, 5, 2}, 1, 0, 5}};
    for (int i = 0; i < (int)COUNT_OF(r); i++) {
      Shape big = shape_of(r[i].n, r[i].d), small = big;
      small.dim[r[i].axis] = r[i].len;
      v[i].in[0] = op == OP_SLICE ? big : small;
      v[i].out = op == OP_SLICE ? small : big;
      v[i].axis = r[i].axis, v[i].start = r[i].start;
    }
    return (int)COUNT_OF(r);
  }
  }
  return 0;
}

static IrNode *build(IrGraph *g, IrOp op, IrNode **s, const Variant *v) {
  switch (op_info[op].kind) {
  case OPK_UNARY: return ir_unary(g, op, s[0]);
  case OPK_BINARY: return ir_binary(g, op, s[0], s[1]);
  case OPK_SELECT: return ir_where(g, s[0], s[1], s[2]);
  case OPK_REDUCE: return ir_reduce(g, op, s[0], v->axes);
  case OPK_MOVE:
    if (op == OP_RESHAPE) return ir_reshape(g, s[0], v->out);
    if (op == OP_EXPAND) return ir_expand(g, s[0], v->out);
    return ir_transpose(g, s[0], v->perm);
  case OPK_MATMUL: return ir_matmul(g, s[0], s[1], v->ta, v->tb);
  case OPK_RAND: return ir_rand(g, s[0], v->out, 3);
  case OPK_WINDOW: return ir_window(g, op, s[0], op_info[op].arity > 1 ? s[1] : NULL, v->win, v->out);
  case OPK_RANGE:
    return (op == OP_SLICE ? ir_slice : ir_pad)(g, s[0], v->axis, v->start, v->out.dim[v->axis]);
  case OPK_LEAF: break;
  }
  die("no builder for %s", op_info[op].name);
}

/* Deterministic xorshift numbers in [0, 1). */
static double next_unit(uint64_t *st) {
  *st ^= *st << 13;
  *st ^= *st >> 7;
  *st ^= *st << 17;
  return (double)(*st >> 11) / 9007199254740992.0;
}

static double draw(Domain d, uint64_t *st) {
  double u = next_unit(st);
  switch (d) {
  case D_ANY: return 4 * u - 2;
  case D_POS: return 0.5 + 1.5 * u;
  case D_NONZERO: return (next_unit(st) < 0.5 ? -1 : 1) * (0.5 + 1.5 * u);
  case D_LOWFRAC: return floor(4 * next_unit(st)) - 2 + 0.05 + 0.35 * u;
  case D_HIGHFRAC: return floor(4 * next_unit(st)) - 2 + 0.55 + 0.35 * u;
  case D_MASK: return u < 0.5 ? 0 : 1;
  case D_COUNTER: return floor(10 * u);
  }
  return 0;
}

/* Evaluates the live graph with the given leaf buffers; returns vals (caller
 * frees the array; buffers live in the scratch arena). */
static double **eval_all(const IrGraph *g, int nleaf, IrNode *const *leaf, double *const *buf, Arena *scratch) {
  double **vals = xcalloc((size_t)g->nodes.len, sizeof(double *));
  for (int i = 0; i < nleaf; i++) vals[leaf[i]->id] = buf[i];
  ir_eval(g, vals, scratch);
  return vals;
}

static double loss_at(const IrGraph *g, IrNode *loss, int nleaf, IrNode *const *leaf, double *const *buf) {
  Arena *scratch = arena_new();
  double **vals = eval_all(g, nleaf, leaf, buf, scratch);
  double l = vals[loss->id][0];
  free(vals);
  arena_free(scratch);
  return l;
}

/* Differentiates loss = sum(op(sources) * R) and compares with finite
 * differences; returns the number of gradient elements compared. */
static int check_variant(int ci, const Variant *v, uint64_t *st) {
  IrOp op = cases[ci].op;
  int arity = op_info[op].arity;
  char vb[96];
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "fd", 0);
  IrNode *leaf[4];
  double *buf[4];
  for (int i = 0; i < arity; i++) {
    leaf[i] = ir_input(g, arena_printf(A, "s%d", i), v->in[i]);
    int64_t n = shape_numel(v->in[i]);
    buf[i] = NEW_ARRAY(A, double, n);
    for (int64_t e = 0; e < n; e++) buf[i][e] = draw(cases[ci].dom[i], st);
  }
  IrNode *out = build(g, op, leaf, v);
  IrNode *r = leaf[arity] = ir_input(g, "r", out->shape);
  buf[arity] = NEW_ARRAY(A, double, shape_numel(out->shape));
  for (int64_t e = 0; e < shape_numel(out->shape); e++) buf[arity][e] = draw(D_ANY, st);
  IrNode *loss = ir_reduce(g, OP_SUM, ir_binary(g, OP_MUL, out, r), (1u << out->shape.ndim) - 1);
  IrNode **grads = grad_build(g, loss, arity, leaf);
  ir_output(g, "loss", loss);
  for (int i = 0; i < arity; i++) {
    ck_assert(shape_eq(grads[i]->shape, v->in[i]));
    ir_output(g, arena_printf(A, "d%d", i), grads[i]);
  }
  double **vals = eval_all(g, arity + 1, leaf, buf, A);
  int compared = 0;
  for (int i = 0; i < arity; i++) {
    const double *an = vals[grads[i]->id];
    for (int64_t e = 0; e < shape_numel(v->in[i]); e++) {
      if (!cases[ci].diff[i]) {
        ck_assert_msg(an[e] == 0, "%s source %d %s: gradient %g, want exactly 0", op_info[op].name, i,
                      shape_str(v->in[i], vb), an[e]);
        continue;
      }
      const double h = 1e-6, x0 = buf[i][e];
      buf[i][e] = x0 + h;
      double up = loss_at(g, loss, arity + 1, leaf, buf);
      buf[i][e] = x0 - h;
      double down = loss_at(g, loss, arity + 1, leaf, buf);
      buf[i][e] = x0;
      double fd = (up - down) / (2 * h);
      ck_assert_msg(fabs(fd - an[e]) <= 1e-6 * (1 + fabs(fd)),
                    "%s source %d %s (axes 0x%x, ta %d, tb %d) element %ld: rule %.12g, finite difference %.12g",
                    op_info[op].name, i, shape_str(v->in[i], vb), v->axes, v->ta, v->tb, (long)e, an[e], fd);
      compared++;
    }
  }
  free(vals);
  arena_free(A);
  return compared;
}

START_TEST(test_every_op_gradient) {
  uint64_t st = 0x2545F4914F6CDD1Dull;
  for (int op = 0; op < OP_COUNT; op++) {
    int ci = -1;
    for (int i = 0; i < (int)COUNT_OF(cases); i++)
      if (cases[i].op == (IrOp)op) ci = i;
    ck_assert_msg(ci >= 0, "op %s has no gradient test case", op_info[op].name);
    if (cases[ci].check == R_ABSENT) {
      ck_assert_msg(op_info[op].kind == OPK_LEAF && op_info[op].grad == NULL, "%s: only leaves have no rule",
                    op_info[op].name);
      continue;
    }
    ck_assert_msg(op_info[op].grad != NULL, "%s has no gradient rule", op_info[op].name);
    Variant v[MAX_VARIANTS];
    int nv = variants((IrOp)op, v);
    ck_assert_msg(nv > 0, "op %s has no shape variants", op_info[op].name);
    int compared = 0;
    for (int k = 0; k < nv; k++) compared += check_variant(ci, &v[k], &st);
    /* an op with a differentiable source must really have been compared */
    bool any = false;
    for (int i = 0; i < op_info[op].arity; i++) any = any || cases[ci].diff[i];
    ck_assert_msg(!any || compared > 0, "%s: nothing compared", op_info[op].name);
  }
}
END_TEST

/* x^3 of a negative base: the exponent is a constant, so no log(x) is built
 * (it would be NaN) and the gradient is 3x^2. */
START_TEST(test_pow_constant_exponent) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "pow", 0);
  IrNode *x = ir_input(g, "x", shape_1(2));
  IrNode *loss = ir_reduce(g, OP_SUM, ir_binary(g, OP_POW, x, ir_const(g, 3)), 1);
  IrNode **d = grad_build(g, loss, 1, &x);
  ir_output(g, "d", d[0]);
  for (int i = 0; i < g->nodes.len; i++) ck_assert_int_ne(((IrNode *)g->nodes.items[i])->op, OP_LOG);
  double xv[2] = {-2, -0.5};
  double *bufs[1] = {xv};
  double **vals = eval_all(g, 1, &x, bufs, A);
  ck_assert(fabs(vals[d[0]->id][0] - 12) < 1e-12);
  ck_assert(fabs(vals[d[0]->id][1] - 0.75) < 1e-12);
  free(vals);
  arena_free(A);
}
END_TEST

/* L(a,b,c) = b*(a + 2b + a c^2) at a=3, b=1, c=-2: the course's example. */
START_TEST(test_course_scalar_graph) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "L", 0);
  IrNode *a = ir_param(g, "a", shape_scalar(), (IrInit){0});
  IrNode *b = ir_param(g, "b", shape_scalar(), (IrInit){0});
  IrNode *c = ir_param(g, "c", shape_scalar(), (IrInit){0});
  g->cur_loc = (Loc){"course.nn", 4, 1};
  g->cur_label = "L";
  IrNode *sum = ir_binary(g, OP_ADD, ir_binary(g, OP_ADD, a, ir_binary(g, OP_MUL, ir_const(g, 2), b)),
                          ir_binary(g, OP_MUL, a, ir_binary(g, OP_POW, c, ir_const(g, 2))));
  IrNode *L = ir_binary(g, OP_MUL, b, sum);
  g->cur_loc = (Loc){0};
  g->cur_label = NULL;
  IrNode *wrt[3] = {a, b, c};
  IrNode **d = grad_build(g, L, 3, wrt);
  for (int i = 0; i < 3; i++) ir_output(g, arena_printf(A, "d%d", i), d[i]);
  ir_output(g, "L", L);
  double av = 3, bv = 1, cv = -2;
  double *bufs[3] = {&av, &bv, &cv};
  double **vals = eval_all(g, 3, wrt, bufs, A);
  ck_assert(vals[L->id][0] == 17);
  ck_assert(vals[d[0]->id][0] == 5);     /* b (1 + c^2) */
  ck_assert(vals[d[1]->id][0] == 19);    /* a + 4b + a c^2 */
  ck_assert(vals[d[2]->id][0] == -12);   /* 2abc */
  /* provenance: gradient nodes say whose gradient they are */
  ck_assert_str_eq(d[0]->label, "grad a");
  ck_assert_str_eq(d[2]->label, "grad L");
  ck_assert_int_eq(d[2]->loc.line, 4);
  ck_assert_ptr_null(g->cur_label);   /* the caller's provenance is restored */
  free(vals);
  arena_free(A);
}
END_TEST

/* f(x) = b3 + w3 cos(b2 + w2 exp(b1 + w1 sin(b0 + w0 x))), loss (f - y)^2,
 * against the chain rule written out by hand. */
START_TEST(test_course_chain) {
  const char *names[8] = {"w0", "b0", "w1", "b1", "w2", "b2", "w3", "b3"};
  double p[8] = {0.7, -0.3, 1.1, 0.2, -0.6, 0.4, 1.3, -0.1}, x = 0.5, y = 1;
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "f", 1);
  IrNode *P[10];
  for (int i = 0; i < 8; i++) P[i] = ir_param(g, names[i], shape_scalar(), (IrInit){0});
  P[8] = ir_input(g, "x", shape_scalar());
  P[9] = ir_input(g, "y", shape_scalar());
  IrNode *h = P[8];
  IrOp act[3] = {OP_SIN, OP_EXP, OP_COS};
  for (int l = 0; l < 3; l++) h = ir_unary(g, act[l], ir_binary(g, OP_ADD, P[2 * l + 1], ir_binary(g, OP_MUL, P[2 * l], h)));
  IrNode *f = ir_binary(g, OP_ADD, P[7], ir_binary(g, OP_MUL, P[6], h));
  IrNode *loss = ir_binary(g, OP_POW, ir_binary(g, OP_SUB, f, P[9]), ir_const(g, 2));
  IrNode **d = grad_build(g, loss, 8, P);
  for (int i = 0; i < 8; i++) ir_output(g, names[i], d[i]);
  double *bufs[10];
  for (int i = 0; i < 8; i++) bufs[i] = &p[i];
  bufs[8] = &x;
  bufs[9] = &y;
  double **vals = eval_all(g, 10, P, bufs, A);

  double u0 = p[1] + p[0] * x, s = sin(u0), u1 = p[3] + p[2] * s, e = exp(u1), u2 = p[5] + p[4] * e, c = cos(u2);
  double fv = p[7] + p[6] * c, dl_df = 2 * (fv - y);
  double du2 = dl_df * p[6] * -sin(u2), du1 = du2 * p[4] * e, du0 = du1 * p[2] * cos(u0);
  double want[8] = {du0 * x, du0, du1 * s, du1, du2 * e, du2, dl_df * c, dl_df};
  for (int i = 0; i < 8; i++)
    ck_assert_msg(fabs(vals[d[i]->id][0] - want[i]) < 1e-12, "d%s = %.17g, want %.17g", names[i], vals[d[i]->id][0],
                  want[i]);
  free(vals);
  arena_free(A);
}
END_TEST

START_TEST(test_unreached_and_unbroadcast) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "u", 0);
  IrNode *x = ir_input(g, "x", shape_2(3, 4)), *bias = ir_param(g, "bias", shape_1(4), (IrInit){0});
  IrNode *col = ir_param(g, "col", shape_2(3, 1), (IrInit){0});
  IrNode *unused = ir_param(g, "unused", shape_2(2, 2), (IrInit){0});
  IrNode *loss = ir_reduce(g, OP_SUM, ir_binary(g, OP_MUL, ir_binary(g, OP_ADD, x, bias), col), 3);
  IrNode *wrt[3] = {bias, col, unused};
  IrNode **d = grad_build(g, loss, 3, wrt);
  /* bias [4] from a [3,4] contribution: reduce axis 0, then drop it */
  ck_assert_int_eq(d[0]->op, OP_RESHAPE);
  ck_assert_int_eq(d[0]->src[0]->op, OP_SUM);
  ck_assert_uint_eq(d[0]->src[0]->axes, 1);
  ck_assert_str_eq(d[0]->label, "grad bias");
  /* col [3,1]: reduce axis 1, same rank, no reshape */
  ck_assert_int_eq(d[1]->op, OP_SUM);
  ck_assert_uint_eq(d[1]->axes, 2);
  /* not reached: zeros of its shape */
  ck_assert_int_eq(d[2]->op, OP_EXPAND);
  ck_assert(shape_eq(d[2]->shape, unused->shape));
  ck_assert(d[2]->src[0]->op == OP_CONST && d[2]->src[0]->value == 0);
  /* accumulating directly: x's adjoint sums contributions */
  GradCtx G = {g, xcalloc((size_t)g->nodes.len, sizeof(IrNode *)), g->nodes.len, NULL};
  grad_accum(&G, bias, x);
  IrNode *first = G.adj[bias->id];
  grad_accum(&G, bias, bias);
  ck_assert_int_eq(G.adj[bias->id]->op, OP_ADD);
  ck_assert_ptr_eq(G.adj[bias->id]->src[0], first);
  ck_assert_ptr_eq(G.adj[bias->id]->src[1], bias);
  free(G.adj);
  arena_free(A);
}
END_TEST

/* Data that is not differentiated gets no adjoint: no summing nodes are
 * built for the broadcast input v. */
START_TEST(test_no_adjoint_for_data) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "d", 0);
  IrNode *v = ir_input(g, "v", shape_1(4)), *w = ir_param(g, "w", shape_2(3, 4), (IrInit){0});
  IrNode *loss = ir_reduce(g, OP_SUM, ir_unary(g, OP_EXP, ir_binary(g, OP_MUL, v, w)), 3);
  int nfwd = g->nodes.len;
  grad_build(g, loss, 1, &w);
  for (int id = nfwd; id < g->nodes.len; id++) {
    const char *label = ((IrNode *)g->nodes.items[id])->label;
    ck_assert(label == NULL || strcmp(label, "grad v") != 0);
  }
  arena_free(A);
}
END_TEST

START_TEST(test_loss_not_scalar) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "bad", 0);
  IrNode *x = ir_input(g, "x", shape_1(3));
  grad_build(g, ir_unary(g, OP_EXP, x), 1, &x);
}
END_TEST

Suite *grad_suite(void) {
  Suite *s = suite_create("grad");
  TCase *tc = tcase_create("rules");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_every_op_gradient);
  tcase_add_test(tc, test_pow_constant_exponent);
  tcase_add_test(tc, test_course_scalar_graph);
  tcase_add_test(tc, test_course_chain);
  tcase_add_test(tc, test_unreached_and_unbroadcast);
  tcase_add_test(tc, test_no_adjoint_for_data);
  tcase_add_test_raise_signal(tc, test_loss_not_scalar, SIGABRT);
  suite_add_tcase(s, tc);
  return s;
}
