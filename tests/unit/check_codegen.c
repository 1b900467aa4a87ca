/* Tests of the LLVM back end (fuse, plan, codegen, gemm, jit): every result
 * of generated code is compared with the reference evaluator (ir_eval, in
 * double) on the same inputs.  Tolerance: |jit - eval| <= 1e-5 + 1e-4 |eval|
 * (float32 arithmetic, FMA contraction and reassociated sums against exact
 * double); NaN matches NaN and infinities match themselves.
 */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "jitcmp.h"
#include "grad.h"
#include "ir.h"
#include "jit.h"
#include "pipeline.h"
#include "plan.h"
#include "pool.h"
#include "target.h"

/* How every comparison compiles: the host and one thread unless a test
 * that walks the target families and thread counts says otherwise. */
static JitOptions jit_opts = {.opt_level = 3};

static Cmp run_and_compare_fill(IrGraph *g, uint64_t seed, double lo, double hi, int steps, FillFn fill) {
  return jitcmp_run(g, seed, lo, hi, steps, fill, &jit_opts);
}

static Cmp run_and_compare(IrGraph *g, uint64_t seed, double lo, double hi, int steps) {
  return run_and_compare_fill(g, seed, lo, hi, steps, NULL);
}

#define EXPECT_MATCH(g, seed, lo, hi, steps)                                   \
  do {                                                                         \
    Cmp c_ = run_and_compare((g), (seed), (lo), (hi), (steps));                \
    ck_assert_msg(c_.bad == 0, "%d mismatches, first %s", c_.bad, c_.where);   \
  } while (0)

static IrGraph *graph(Arena **a) {
  *a = arena_new();
  return ir_graph_new(*a, "test", 0);
}

/* ---- matrix products ---- */

static void check_matmul(int m, int k, int n, bool ta, bool tb) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *x = ir_input(g, "a", ta ? shape_2(k, m) : shape_2(m, k));
  IrNode *y = ir_input(g, "b", tb ? shape_2(n, k) : shape_2(k, n));
  ir_output(g, "c", ir_matmul(g, x, y, ta, tb));
  EXPECT_MATCH(g, (uint64_t)(m * 131 + k * 17 + n + ta * 2 + tb), -1, 1, 1);
  arena_free(a);
}

START_TEST(matmul_awkward_sizes) {
  /* 1024 x 9 x 40: a transposed A of 1024 rows, whose k steps lie 4 KB apart, is packed */
  static const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {65, 129, 33}, {8, 32, 32}, {9, 1, 33}, {1024, 9, 40}};
  for (size_t s = 0; s < COUNT_OF(sizes); s++)
    for (int t = 0; t < 4; t++) check_matmul(sizes[s][0], sizes[s][1], sizes[s][2], t & 1, t >> 1);
}
END_TEST

/* ---- every op ---- */

/* Each elementwise op on positive inputs (so log, sqrt and pow are defined)
 * and on signed ones, with numpy broadcasting between [3,1,4] and [5,1]. */
START_TEST(elementwise_ops) {
  for (int op = 0; op < OP_COUNT; op++) {
    OpKind k = op_info[op].kind;
    if (k != OPK_UNARY && k != OPK_BINARY && k != OPK_SELECT) continue;
    for (int sign = 0; sign < 2; sign++) {
      bool positive_only = op == OP_LOG || op == OP_SQRT || op == OP_POW || op == OP_POW1M;
      if (sign && positive_only) continue;
      Arena *a;
      IrGraph *g = graph(&a);
      IrNode *x = ir_input(g, "x", shape_of(3, (int[]){3, 1, 4}));
      IrNode *y = ir_input(g, "y", shape_2(5, 1));
      IrNode *c = ir_input(g, "c", shape_1(4));
      IrNode *r = k == OPK_UNARY    ? ir_unary(g, (IrOp)op, x)
                  : k == OPK_BINARY ? ir_binary(g, (IrOp)op, x, y)
                                    : ir_where(g, ir_binary(g, OP_CMPLT, c, ir_const(g, 0)), x, y);
      ir_output(g, "r", r);
      EXPECT_MATCH(g, (uint64_t)op, sign ? -2 : 0.5, 2, 1);
      arena_free(a);
    }
  }
}
END_TEST

/* The inline transcendentals against double precision, densely, including
 * overflow, underflow, tiny arguments and NaN: relative error <= 2e-6 where
 * the result is a normal float. */
static double softplus_ref(double x) { return fmax(x, 0) + log1p(exp(-fabs(x))); }

START_TEST(inline_math_accuracy) {
  enum { N = 4096 };
  static const struct {
    IrOp op;
    double (*ref)(double);
  } fns[] = {{OP_EXP, exp}, {OP_EXPM1, expm1}, {OP_TANH, tanh}, {OP_SOFTPLUS, softplus_ref}, {OP_ERFC, erfc}};
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *x = ir_input(g, "x", shape_1(N));
  for (size_t f = 0; f < COUNT_OF(fns); f++) ir_output(g, op_info[fns[f].op].name, ir_unary(g, fns[f].op, x));
  char err[256];
  JitGraph *j = jit_compile(g, NULL, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  float *in = aligned_alloc(64, N * sizeof(float));
  for (int i = 0; i < N; i++) in[i] = (float)(i < N / 2 ? -110.0 + 220.0 * i / (N / 2) : pow(10, -8 + 8.0 * (i - N / 2) / (N / 2)) * (i % 2 ? -1 : 1));
  in[0] = NAN;
  in[1] = INFINITY;
  in[2] = -INFINITY;
  jit_bind(j, 0, in);
  jit_run(j);
  for (size_t f = 0; f < COUNT_OF(fns); f++) {
    const char *name = op_info[fns[f].op].name;
    const float *y = jit_output(j, name);
    for (int i = 0; i < N; i++) {
      double want = fns[f].ref((double)in[i]);
      if (isnan(in[i])) {
        ck_assert_msg(isnan(y[i]), "%s(nan) = %.9g", name, y[i]);
        continue;
      }
      ck_assert_msg(fabs(y[i] - want) <= 2e-6 * fabs(want) + 1e-37 || (want > FLT_MAX && isinf(y[i])),
                    "%s(%.9g) = %.9g, want %.9g", name, in[i], y[i], want);
    }
  }
  free(in);
  jit_free(j);
  arena_free(a);
}
END_TEST

/* Every reduction over every axis set of a [3,4,5] input, with an
 * elementwise producer fused in. */
START_TEST(reductions_all_axes) {
  static const IrOp ops[] = {OP_SUM, OP_RMAX, OP_RMIN, OP_LOGSUMEXP};
  for (size_t o = 0; o < COUNT_OF(ops); o++)
    for (unsigned axes = 1; axes < 8; axes++) {
      Arena *a;
      IrGraph *g = graph(&a);
      IrNode *x = ir_input(g, "x", shape_of(3, (int[]){3, 4, 5}));
      IrNode *e = ir_unary(g, OP_TANH, ir_binary(g, OP_MUL, x, ir_const(g, 3)));
      ir_output(g, "r", ir_reduce(g, ops[o], e, axes));
      ir_output(g, "plain", ir_reduce(g, ops[o], x, axes));
      EXPECT_MATCH(g, axes, -3, 3, 1);
      arena_free(a);
    }
}
END_TEST

/* logsumexp of all -inf is -inf, of +inf is +inf. */
START_TEST(logsumexp_infinities) {
  for (int s = -1; s <= 1; s += 2) {
    Arena *a;
    IrGraph *g = graph(&a);
    IrNode *x = ir_input(g, "x", shape_2(2, 3));
    IrNode *inf = ir_binary(g, OP_DIV, ir_const(g, s), ir_const(g, 0));
    ir_output(g, "r", ir_reduce(g, OP_LOGSUMEXP, ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, x, ir_const(g, 0)), inf), 2));
    EXPECT_MATCH(g, 1, -1, 1, 1);
    arena_free(a);
  }
}
END_TEST

/* Reshape, expand and transpose as views, fused index maps and copies. */
START_TEST(movement_ops) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *x = ir_input(g, "x", shape_of(3, (int[]){2, 3, 4}));
  IrNode *t = ir_transpose(g, x, (int[]){2, 0, 1});                     /* [4,2,3] view */
  ir_output(g, "t", t);                                                  /* copied out */
  ir_output(g, "rt", ir_reshape(g, t, shape_2(8, 3)));                   /* copy of a strided view */
  ir_output(g, "rx", ir_reshape(g, x, shape_2(6, 4)));                   /* free view */
  IrNode *ex = ir_expand(g, ir_reshape(g, ir_reduce(g, OP_SUM, x, 4), shape_2(2, 3)), shape_of(3, (int[]){5, 2, 3}));
  ir_output(g, "ex", ir_binary(g, OP_ADD, ex, ir_const(g, 1)));
  IrNode *e = ir_unary(g, OP_EXP, x);
  ir_output(g, "te", ir_binary(g, OP_MUL, ir_transpose(g, e, (int[]){1, 2, 0}), ir_const(g, 2)));
  ir_output(g, "mix", ir_binary(g, OP_ADD, ir_transpose(g, e, (int[]){0, 2, 1}), ir_transpose(g, x, (int[]){0, 2, 1})));
  ir_output(g, "c", ir_expand(g, ir_const(g, 7), shape_2(3, 2)));
  ir_output(g, "x", x);
  EXPECT_MATCH(g, 5, -1, 1, 1);
  arena_free(a);
}
END_TEST

/* Slices and pads: in elementwise loops, alone (a copy), of a transposed
 * view and of a constant, in a product's epilogue and around reductions;
 * concat as a sum of pads.  Then the same on two threads. */
static IrGraph *ranges_graph(Arena **a) {
  IrGraph *g = graph(a);
  IrNode *x = ir_input(g, "x", shape_of(3, (int[]){4, 6, 5}));
  ir_output(g, "s", ir_slice(g, x, 1, 2, 3));
  ir_output(g, "es", ir_binary(g, OP_MUL, ir_unary(g, OP_EXP, ir_slice(g, x, 2, 1, 4)), ir_const(g, 2)));
  IrNode *b = ir_slice(g, x, 1, 0, 3);
  IrNode *cat = ir_binary(g, OP_ADD, ir_pad(g, ir_unary(g, OP_TANH, x), 1, 0, 9), ir_pad(g, b, 1, 6, 9));
  ir_output(g, "cat", ir_binary(g, OP_MUL, cat, ir_const(g, 3)));
  IrNode *k = ir_expand(g, ir_const(g, 3), shape_of(3, (int[]){4, 2, 5}));
  ir_output(g, "pk", ir_binary(g, OP_ADD, ir_pad(g, k, 1, 3, 6), x));
  ir_output(g, "st", ir_slice(g, ir_transpose(g, x, (int[]){2, 0, 1}), 0, 1, 3));
  ir_output(g, "rs", ir_reduce(g, OP_SUM, ir_pad(g, x, 2, 2, 8), 4));
  ir_output(g, "ps", ir_pad(g, ir_reduce(g, OP_RMIN, x, 4), 2, 1, 3));
  IrNode *p = ir_input(g, "p", shape_2(7, 5)), *q = ir_input(g, "q", shape_2(5, 8)), *r = ir_input(g, "r", shape_2(7, 10));
  ir_output(g, "mm", ir_binary(g, OP_ADD, ir_matmul(g, p, q, false, false), ir_slice(g, r, 1, 2, 8)));
  ir_output(g, "pm", ir_pad(g, ir_matmul(g, p, q, false, false), 0, 1, 9));
  return g;
}

START_TEST(slices_and_pads) {
  Arena *a;
  IrGraph *g = ranges_graph(&a);
  EXPECT_MATCH(g, 11, -2, 2, 1);
  arena_free(a);
}
END_TEST

/* The inline transcendentals over a range where they are all finite and
 * not tiny, for the target families test. */
static IrGraph *smooth_graph(Arena **a) {
  IrGraph *g = graph(a);
  IrNode *x = ir_input(g, "x", shape_2(33, 37));
  static const IrOp ops[] = {OP_EXPM1, OP_SOFTPLUS, OP_ERFC, OP_TANH, OP_EXP};
  for (size_t i = 0; i < COUNT_OF(ops); i++) ir_output(g, op_info[ops[i]].name, ir_unary(g, ops[i], x));
  return g;
}

/* Dropout-style masks: the same bits as ir_rand_uniform, counter from a state. */
START_TEST(rand_matches_evaluator) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *step = ir_state(g, "step", shape_scalar(), (IrInit){0});
  IrNode *x = ir_input(g, "x", shape_2(7, 33));
  IrNode *r = ir_rand(g, step, shape_2(7, 33), 1234);
  ir_output(g, "r", r);
  ir_output(g, "shard", ir_rand_from(g, step, shape_2(3, 33), 1234, 4 * 33));   /* rows 4..6 of a [7, 33] draw */
  ir_output(g, "drop", ir_where(g, ir_binary(g, OP_CMPLT, r, ir_const(g, 0.5)), ir_binary(g, OP_MUL, x, ir_const(g, 2)), ir_const(g, 0)));
  ir_update(g, step, ir_binary(g, OP_ADD, step, ir_const(g, 1)));
  EXPECT_MATCH(g, 9, 0, 100, 3);
  arena_free(a);
}
END_TEST

/* Updates: in place, through copies, swaps and values that are leaves. */
START_TEST(updates_ordering) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *p = ir_param(g, "p", shape_2(4, 6), (IrInit){0});
  IrNode *q = ir_param(g, "q", shape_2(4, 6), (IrInit){0});
  IrNode *s = ir_state(g, "s", shape_2(6, 4), (IrInit){0});
  IrNode *u = ir_state(g, "u", shape_2(4, 6), (IrInit){0});
  ir_output(g, "out", ir_matmul(g, p, s, false, false));
  ir_update(g, p, q);                                              /* swap p and q */
  ir_update(g, q, p);
  ir_update(g, s, ir_binary(g, OP_ADD, ir_transpose(g, u, (int[]){1, 0}), s));  /* reads u transposed */
  ir_update(g, u, ir_unary(g, OP_NEG, u));
  ir_output(g, "p_old", p);
  EXPECT_MATCH(g, 3, -1, 1, 3);
  arena_free(a);
}
END_TEST

/* ---- random graphs ---- */

typedef struct {
  IrGraph *g;          /* graph being grown */
  uint64_t seed;       /* generator state */
  Shape full;          /* every node's shape broadcasts to this */
  IrNode *pool[64];    /* values of the current part so far */
  int n;               /* pool size */
  int part;            /* current part, for unique leaf names */
} RandGraph;

static int pick(RandGraph *r, int n) { return (int)jitcmp_rnd(&r->seed, 0, n); }
static IrNode *any(RandGraph *r) { return r->pool[pick(r, r->n)]; }

/* A shape whose axes are those of `full` or 1, with leading axes maybe dropped. */
static Shape sub_shape(RandGraph *r) {
  Shape s = r->full;
  int drop = pick(r, s.ndim + 1);
  Shape o = {s.ndim - drop, {0}};
  for (int d = 0; d < o.ndim; d++) o.dim[d] = pick(r, 3) == 0 ? 1 : s.dim[d + drop];
  return o;
}

static IrNode *un(RandGraph *r, IrOp op, IrNode *x) { return ir_unary(r->g, op, x); }
static IrNode *bi(RandGraph *r, IrOp op, IrNode *x, IrNode *y) { return ir_binary(r->g, op, x, y); }
static IrNode *kst(RandGraph *r, double v) { return ir_const(r->g, v); }

/* One random op over the pool; domains kept safe (log of |x|+0.5, ...). */
static IrNode *grow(RandGraph *r) {
  IrNode *x = any(r), *y = any(r);
  IrGraph *g = r->g;
  switch (pick(r, 17)) {
  case 0: return un(r, (IrOp[]){OP_NEG, OP_ABS, OP_SIGN, OP_TANH}[pick(r, 4)], x);
  case 15: return un(r, (IrOp[]){OP_SIN, OP_COS}[pick(r, 2)], un(r, OP_TANH, x));   /* large arguments would be ill-conditioned */
  case 1: return un(r, OP_EXP, un(r, OP_TANH, x));
  case 2: return un(r, (IrOp[]){OP_LOG, OP_SQRT}[pick(r, 2)], bi(r, OP_ADD, un(r, OP_ABS, x), kst(r, 0.5)));
  case 3: return bi(r, OP_POW, bi(r, OP_ADD, un(r, OP_ABS, x), kst(r, 0.5)), un(r, OP_TANH, y));
  case 4: return bi(r, OP_DIV, x, bi(r, OP_ADD, un(r, OP_ABS, y), kst(r, 0.5)));
  case 5:
  case 6: return bi(r, (IrOp[]){OP_ADD, OP_SUB, OP_MUL, OP_MAX, OP_MIN, OP_CMPLT}[pick(r, 6)], x, y);
  case 7: return ir_where(g, bi(r, OP_CMPLT, x, y), y, any(r));
  case 8: {
    if (x->shape.ndim == 0) return un(r, OP_NEG, x);
    unsigned axes = 1u + (unsigned)pick(r, (1 << x->shape.ndim) - 1);
    return ir_reduce(g, (IrOp[]){OP_SUM, OP_RMAX, OP_LOGSUMEXP}[pick(r, 3)], x, axes);
  }
  case 9: return ir_expand(g, x, r->full);
  case 10: {   /* transpose, compute, transpose back: a fused index map */
    if (x->shape.ndim < 2) return bi(r, OP_MUL, x, kst(r, 1.5));
    int perm[IR_MAX_DIMS], inv[IR_MAX_DIMS];
    for (int d = 0; d < x->shape.ndim; d++) perm[d] = x->shape.ndim - 1 - d;
    for (int d = 0; d < x->shape.ndim; d++) inv[perm[d]] = d;
    IrNode *t = un(r, OP_TANH, ir_transpose(g, x, perm));
    return ir_transpose(g, bi(r, OP_ADD, t, ir_transpose(g, y->shape.ndim == x->shape.ndim ? y : x, perm)), inv);
  }
  case 11: {   /* flatten, compute, restore */
    IrNode *f = ir_reshape(g, x, shape_1((int)shape_numel(x->shape)));
    return ir_reshape(g, bi(r, OP_SUB, f, kst(r, 0.25)), x->shape);
  }
  case 12: {   /* matrix product of two views, summed to a scalar */
    Shape fs = r->full;
    int m = fs.dim[0], k = fs.dim[fs.ndim - 1];
    IrNode *e = ir_reshape(g, ir_expand(g, x, fs), shape_2(m, (int)(shape_numel(fs) / m)));
    IrNode *w = ir_input(g, arena_printf(g->arena, "p%d.w%d", r->part, r->n), shape_2(k, (int)(shape_numel(fs) / m)));
    IrNode *p = ir_matmul(g, e, w, false, true);
    bool ta = pick(r, 2) == 0;
    IrNode *q = ir_matmul(g, ta ? ir_transpose(g, p, (int[]){1, 0}) : p, ir_binary(g, OP_ADD, w, kst(r, 0.1)), ta, false);
    return ir_reshape(g, ir_reduce(g, OP_SUM, q, 3), shape_scalar());
  }
  case 13: return ir_rand(g, ir_reshape(g, ir_reduce(g, OP_RMAX, ir_expand(g, x, r->full), (1u << r->full.ndim) - 1), shape_scalar()), sub_shape(r), (uint32_t)r->n);
  default: return bi(r, OP_ADD, bi(r, OP_MUL, x, kst(r, 0.5)), y);
  }
}

/* One independent random subgraph (leaves, ops, outputs, updates) named pP.*. */
static void random_part(RandGraph *r, int part) {
  Arena *a = r->g->arena;
  r->n = 0;
  r->part = part;
  r->full.ndim = 1 + pick(r, 3);
  for (int d = 0; d < r->full.ndim; d++) r->full.dim[d] = 1 + pick(r, 5);
  int nleaves = 2 + pick(r, 3);
  IrNode *leaves[4];
  for (int i = 0; i < nleaves; i++) {
    Shape s = sub_shape(r);
    const char *name = arena_printf(a, "p%d.v%d", part, i);
    leaves[i] = i % 2 ? ir_state(r->g, name, s, (IrInit){0}) : ir_input(r->g, name, s);
    r->pool[r->n++] = leaves[i];
  }
  int nops = 4 + pick(r, 10);
  for (int i = 0; i < nops; i++) {
    IrNode *x = grow(r);
    r->pool[r->n++] = x;
  }
  for (int i = 0; i < 3; i++) ir_output(r->g, arena_printf(a, "p%d.o%d", part, i), r->pool[r->n - 1 - pick(r, r->n / 2)]);
  /* states (odd leaves) take a value reduced or expanded to their shape */
  for (int i = 1; i < nleaves; i += 2) {
    IrNode *v = ir_expand(r->g, r->pool[r->n - 1 - pick(r, r->n / 2)], r->full);
    Shape fs = r->full, ss = leaves[i]->shape;
    unsigned axes = 0;
    int off = fs.ndim - ss.ndim;
    for (int d = 0; d < fs.ndim; d++)
      if (d < off || (ss.dim[d - off] == 1 && fs.dim[d] != 1)) axes |= 1u << d;
    if (axes) v = ir_reduce(r->g, OP_SUM, v, axes);
    ir_update(r->g, leaves[i], ir_binary(r->g, OP_MUL, ir_reshape(r->g, v, ss), ir_const(r->g, 0.5)));
  }
}

/* Three independent random subgraphs in one graph (one compilation). */
static IrGraph *random_graph(Arena *a, uint64_t seed) {
  RandGraph r = {ir_graph_new(a, "random", 0), seed, {0, {0}}, {0}, 0, 0};
  for (int part = 0; part < 3; part++) random_part(&r, part);
  return r.g;
}

START_TEST(random_graphs) {
  for (uint64_t seed = 1; seed <= 70; seed++) {   /* 210 random subgraphs */
    Arena *a = arena_new();
    IrGraph *g = random_graph(a, seed * 7919);
    Cmp c = run_and_compare(g, seed, -2, 2, 2);
    if (c.bad) ir_print(stderr, g);
    ck_assert_msg(c.bad == 0, "graph seed %llu: %d mismatches, first %s", (unsigned long long)seed, c.bad, c.where);
    arena_free(a);
  }
}
END_TEST

/* ---- a training step ---- */

static IrNode *K(IrGraph *g, double v) { return ir_const(g, v); }
static IrNode *bin(IrGraph *g, IrOp op, IrNode *a, IrNode *b) { return ir_binary(g, op, a, b); }

static IrGraph *build_mlp(Arena *a, int B, const int *sizes, int nl) {
  IrGraph *g = ir_graph_new(a, "mlp.train", B);
  IrNode *x = ir_input(g, "x", shape_2(B, sizes[0]));
  IrNode *y = ir_input(g, "y", shape_2(B, sizes[nl]));
  IrNode *params[16]; int np = 0;
  IrNode *h = x;
  for (int l = 0; l < nl; l++) {
    char nm[32];
    snprintf(nm, sizeof nm, "l%d.w", l);
    IrNode *w = ir_param(g, arena_strdup(a, nm), shape_2(sizes[l], sizes[l + 1]), (IrInit){.kind = INIT_XAVIER});
    snprintf(nm, sizeof nm, "l%d.b", l);
    IrNode *b = ir_param(g, arena_strdup(a, nm), shape_1(sizes[l + 1]), (IrInit){0});
    params[np++] = w; params[np++] = b;
    h = bin(g, OP_ADD, ir_matmul(g, h, w, false, false), b);
    if (l < nl - 1) h = bin(g, OP_MAX, h, K(g, 0));
  }
  IrNode *lse = ir_reduce(g, OP_LOGSUMEXP, h, 2);
  IrNode *yx = ir_reduce(g, OP_SUM, bin(g, OP_MUL, y, h), 2);
  IrNode *per = bin(g, OP_SUB, lse, yx);
  IrNode *loss = bin(g, OP_MUL, ir_reshape(g, ir_reduce(g, OP_SUM, per, 3), shape_scalar()), K(g, 1.0 / B));
  ir_output(g, "loss", loss);
  ir_output(g, "logits", h);
  IrNode **grads = grad_build(g, loss, np, params);
  IrNode *t = ir_state(g, "adam.t", shape_scalar(), (IrInit){0});
  IrNode *t1 = bin(g, OP_ADD, t, K(g, 1));
  ir_update(g, t, t1);
  double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (int i = 0; i < np; i++) {
    IrNode *w = params[i], *gr = grads[i];
    char nm[64];
    snprintf(nm, sizeof nm, "adam.m/%s", w->name);
    IrNode *m = ir_state(g, arena_strdup(a, nm), w->shape, (IrInit){0});
    snprintf(nm, sizeof nm, "adam.v/%s", w->name);
    IrNode *v = ir_state(g, arena_strdup(a, nm), w->shape, (IrInit){0});
    IrNode *m1 = bin(g, OP_ADD, bin(g, OP_MUL, K(g, b1), m), bin(g, OP_MUL, K(g, 1 - b1), gr));
    IrNode *v1 = bin(g, OP_ADD, bin(g, OP_MUL, K(g, b2), v), bin(g, OP_MUL, K(g, 1 - b2), bin(g, OP_MUL, gr, gr)));
    ir_update(g, m, m1);
    ir_update(g, v, v1);
    IrNode *c1 = bin(g, OP_SUB, K(g, 1), bin(g, OP_POW, K(g, b1), t1));
    IrNode *c2 = bin(g, OP_SUB, K(g, 1), bin(g, OP_POW, K(g, b2), t1));
    IrNode *den = bin(g, OP_ADD, ir_unary(g, OP_SQRT, bin(g, OP_DIV, v1, c2)), K(g, eps));
    ir_update(g, w, bin(g, OP_SUB, w, bin(g, OP_DIV, bin(g, OP_MUL, K(g, lr), bin(g, OP_DIV, m1, c1)), den)));
  }
  return g;
}

/* Inputs in [0,1), one-hot targets, small weights, zero optimizer state. */
static double mlp_fill(const IrNode *leaf, int64_t e, uint64_t *seed) {
  if (strcmp(leaf->name, "y") == 0) {
    int k = leaf->shape.dim[1];
    return e % k == (e / k) % k ? 1 : 0;
  }
  if (leaf->op == OP_STATE) return 0;
  return leaf->op == OP_PARAM ? jitcmp_rnd(seed, -0.2, 0.2) : jitcmp_rnd(seed, 0, 1);
}

/* Forward, gradients and Adam updates of an MLP, three steps. */
START_TEST(mlp_train_step) {
  static const int small[] = {50, 32, 16, 10}, full[] = {784, 256, 128, 10};
  Arena *a = arena_new();
  IrGraph *g = build_mlp(a, 16, small, 3);
  Cmp c = run_and_compare_fill(g, 11, 0, 1, 3, mlp_fill);
  ck_assert_msg(c.bad == 0, "%d mismatches, first %s", c.bad, c.where);
  c = run_and_compare_fill(ir_simplify(g), 12, 0, 1, 3, mlp_fill);
  ck_assert_msg(c.bad == 0, "simplified: %d mismatches, first %s", c.bad, c.where);
  c = run_and_compare_fill(ir_simplify(build_mlp(a, 64, full, 3)), 13, 0, 1, 1, mlp_fill);
  ck_assert_msg(c.bad == 0, "full size: %d mismatches, first %s", c.bad, c.where);
  arena_free(a);
}
END_TEST

/* ---- target families and threads ---- */

typedef struct {
  const char *cpu;   /* x86-64 CPU, or NULL for the host */
  int threads;       /* pool size */
} Config;

static const Config configs[] = {
  {"x86-64-v4", 1}, {"x86-64-v3", 1}, {"x86-64", 1}, {NULL, 2}, {NULL, 3}, {"x86-64-v3", 2},
};

/* Products of every orientation and an MLP's train step, for every target
 * family this host can run (the rest are emitted in check_target.c) and for
 * several thread counts: generated code matches the evaluator. */
START_TEST(families_and_threads) {
  const Config *cf = &configs[_i];
  Target t;
  char err[1024];
  bool ok = cf->cpu ? target_resolve(&t, "x86_64-linux-gnu", cf->cpu, NULL, err, sizeof err)
                    : target_host(&t, err, sizeof err);
  ck_assert_msg(ok, "%s", err);
  if (!t.host) {
    fprintf(stderr, "families_and_threads: this host cannot run %s code; emitted only (check_target)\n",
            target_family_name(t.family));
    target_free(&t);
    return;
  }
  Pool *pool = pool_new(cf->threads, err, sizeof err);
  ck_assert_msg(pool != NULL, "%s", err);
  jit_opts.target = &t;
  jit_opts.pool = pool;
  jit_opts.always_pool = true;
  static const int sizes[][3] = {{7, 13, 5}, {65, 129, 33}, {9, 1, 33}, {70, 64, 100}, {20, 37, 50}};
  for (size_t k = 0; k < COUNT_OF(sizes); k++)
    for (int tr = 0; tr < 4; tr++) check_matmul(sizes[k][0], sizes[k][1], sizes[k][2], tr & 1, tr >> 1);
  /* panels outside rows (B too large to pack whole): read in place with
   * whole panels in rows 1 KB apart where the 784 KB they span fit the L2
   * (AVX-512's), packed per panel with a narrow last one */
  for (int n = 255; n <= 256; n++) {
    Arena *pa;
    IrGraph *pg = graph(&pa);
    ir_output(pg, "c", ir_matmul(pg, ir_input(pg, "a", shape_2(20, 784)), ir_input(pg, "b", shape_2(784, n)), false,
                                 false));
    Planned *p = pipeline_plan(pg, &t);
    const GemmSchedule *gs = &p->sched->steps[0].gemm;
    bool in_place = n == 256 && t.l2_bytes >= 784 * 256 * 4;
    ck_assert_msg(!gs->rows_outer && gs->b_in_place == in_place, "%s, %d columns: rows outside %d, in place %d",
                  t.cpu, n, gs->rows_outer, gs->b_in_place);
    pipeline_plan_free(p);
    arena_free(pa);
    check_matmul(20, 784, n, false, false);
  }
  static const int small[] = {50, 32, 16, 10};
  Arena *a = arena_new();
  Cmp c = run_and_compare_fill(ir_simplify(build_mlp(a, 16, small, 3)), 11, 0, 1, 3, mlp_fill);
  ck_assert_msg(c.bad == 0, "%s, %d threads: %d mismatches, first %s", t.cpu, cf->threads, c.bad, c.where);
  arena_free(a);
  IrGraph *(*const more[])(Arena **) = {ranges_graph, smooth_graph};
  for (size_t k = 0; k < COUNT_OF(more); k++) {
    c = run_and_compare(more[k](&a), 13 + k, -3, 3, 1);
    ck_assert_msg(c.bad == 0, "%s, %d threads, graph %zu: %d mismatches, first %s", t.cpu, cf->threads, k, c.bad,
                  c.where);
    arena_free(a);
  }
  jit_opts.target = NULL;
  jit_opts.pool = NULL;
  jit_opts.always_pool = false;
  pool_free(pool);
  target_free(&t);
}
END_TEST

/* Every leaf after three train steps of g on `threads` threads. */
typedef struct {
  int n;                  /* leaves */
  const IrNode **leaf;    /* which */
  float **buf;            /* their values */
} Trained;

static Trained train_with_threads(IrGraph *g, int threads) {
  char err[512];
  Pool *pool = pool_new(threads, err, sizeof err);
  ck_assert_msg(pool != NULL, "%s", err);
  JitGraph *j = jit_compile(g, &(JitOptions){.opt_level = 3, .pool = pool, .always_pool = true}, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  Trained t = {jit_nleaves(j), NULL, NULL};
  t.leaf = calloc((size_t)t.n + 1, sizeof(IrNode *));
  t.buf = calloc((size_t)t.n + 1, sizeof(float *));
  uint64_t seed = 5;
  for (int i = 0; i < t.n; i++) {
    const IrNode *x = t.leaf[i] = jit_leaf(j, i);
    int64_t n = shape_numel(x->shape);
    t.buf[i] = aligned_alloc(64, (size_t)(n + 16) / 16 * 64);
    for (int64_t e = 0; e < n; e++) t.buf[i][e] = (float)mlp_fill(x, e, &seed);
    jit_bind(j, i, t.buf[i]);
  }
  for (int step = 0; step < 3; step++) jit_run(j);
  jit_free(j);
  pool_free(pool);
  return t;
}

static void trained_free(Trained *t) {
  for (int i = 0; i < t->n; i++) free(t->buf[i]);
  free(t->buf);
  free(t->leaf);
}

/* Every weight and optimizer state of g after three steps is bit-identical
 * for 1, 2 and 3 threads. */
static void check_threads_bit_identical(IrGraph *g) {
  Trained one = train_with_threads(g, 1);
  for (int threads = 2; threads <= 3; threads++) {
    Trained many = train_with_threads(g, threads);
    ck_assert_int_eq(many.n, one.n);
    for (int i = 0; i < one.n; i++)
      ck_assert_msg(memcmp(one.buf[i], many.buf[i], sizeof(float) * (size_t)shape_numel(one.leaf[i]->shape)) == 0,
                    "%s differs with %d threads", one.leaf[i]->name, threads);
    trained_free(&many);
  }
  trained_free(&one);
}

/* Threads share out steps without changing any sum's order. */
START_TEST(threads_bit_identical) {
  static const int sizes[] = {37, 257, 19, 7};
  Arena *a = arena_new();
  check_threads_bit_identical(ir_simplify(build_mlp(a, 11, sizes, 3)));
  arena_free(a);
}
END_TEST

/* The splits of g's steps planned for t: in-memory reductions and products
 * in column slices, and the C^T products among the latter. */
typedef struct {
  int sums, slices, swapped_slices, in_place_slices;
} Splits;

static Splits splits_of(IrGraph *g, const Target *t) {
  Planned *p = pipeline_plan(g, t);
  Splits n = {0};
  for (int si = 0; si < p->mp->nsteps; si++) {
    const StepSchedule *ss = &p->sched->steps[si];
    const PlanStep *st = &p->mp->steps[si];
    if (ss->split == SPLIT_PARALLEL && ss->split_columns) n.sums++;
    if (st->kind != STEP_GROUP || p->fp->groups[st->group].kind != FG_MATMUL) continue;
    const GemmSchedule *gs = &ss->gemm;
    int64_t nr = gs->vectors * gs->vw;
    if (gs->column_slices) {
      n.slices += 1;
      n.swapped_slices += gs->swap;
      n.in_place_slices += gs->b_in_place;
      ck_assert_int_eq(ss->units, (gs->N + nr - 1) / nr);
      ck_assert_int_gt(ss->units, 1);
      /* every slice edge between cache lines */
      ck_assert_int_eq(nr % 16, 0);
      ck_assert(gs->swap || gs->N % 16 == 0);
    }
    ck_assert_msg(!gs->swap || ss->units == 1 || gs->column_slices, "%s: C^T split by its rows", t->cpu);
  }
  pipeline_plan_free(p);
  return n;
}

/* Slices of columns, the last one short: a bias gradient large enough to
 * share out ([40,1100] -> [1100]), each sum keeping its order, and the
 * logits' weight gradient computed as C^T ([3,1100] with Adam, slices of C's
 * rows; with 256 columns, B read in place): bit-identical for 1, 2 and 3
 * threads. */
START_TEST(column_slices_threads_bit_identical) {
  static const int wide[] = {37, 1100, 3}, even[] = {37, 256, 3};
  const int *sizes[] = {wide, even};
  Target t;
  char err[512];
  ck_assert_msg(target_host(&t, err, sizeof err), "%s", err);
  bool whole_lines = target_tile_cols(&t) % 16 == 0;
  for (int k = 0; k < 2; k++) {
    Arena *a = arena_new();
    IrGraph *g = ir_simplify(build_mlp(a, 40, sizes[k], 2));
    Splits n = splits_of(g, &t);
    ck_assert_msg(k == 1 || n.sums > 0, "%s: no in-memory reduction in column slices", t.cpu);
    ck_assert_msg(!whole_lines || n.swapped_slices > 0, "%s: no C^T product in column slices", t.cpu);
    ck_assert_msg(k == 0 || !whole_lines || n.in_place_slices > 0, "%s: no column slices reading B in place", t.cpu);
    check_threads_bit_identical(g);
    arena_free(a);
  }
  target_free(&t);
}
END_TEST

/* The splits threads_bit_identical relies on, for every x86 family: a weight
 * gradient whose epilogue updates the weight (and Adam's m and v) is split
 * by column slices where every slice edge falls between cache lines, so each
 * thread writes the weight columns it read in the forward product (not
 * SSE2's 8-float panels, nor 257 columns, whose rows start mid-line); a
 * product computed as C^T is never split by C^T's rows (a few columns of C
 * each, so two threads would write the same cache lines): it runs whole or
 * in column slices of C^T, C's rows. */
START_TEST(update_products_split_by_owner) {
  static const char *cpus[] = {"x86-64-v4", "x86-64-v3", "x86-64"};
  static const int even[] = {37, 256, 19, 3}, odd[] = {37, 257, 19, 3};
  for (size_t c = 0; c < COUNT_OF(cpus); c++) {
    Target t;
    char err[512];
    ck_assert_msg(target_resolve(&t, "x86_64-linux-gnu", cpus[c], NULL, err, sizeof err), "%s", err);
    bool whole_lines = target_tile_cols(&t) % 16 == 0;
    Arena *a = arena_new();
    Splits n = splits_of(ir_simplify(build_mlp(a, 11, even, 3)), &t);
    ck_assert_msg(whole_lines == (n.slices - n.swapped_slices > 0), "%s: %d weight gradients in column slices",
                  cpus[c], n.slices - n.swapped_slices);
    n = splits_of(ir_simplify(build_mlp(a, 11, odd, 3)), &t);
    ck_assert_msg(n.slices == n.swapped_slices, "%s: 257 columns in column slices", cpus[c]);
    arena_free(a);
    target_free(&t);
  }
}
END_TEST

/* ---- row kernels: reductions over the same rows and their consumers ---- */

/* The group holding node n in g's fusion plan. */
static const FuseGroup *group_of(const FusePlan *fp, const IrNode *n) {
  ck_assert_int_eq(fp->node[n->id].role, ROLE_MEMBER);
  return &fp->groups[fp->node[n->id].group];
}

/* The live node of g with op `op`, the `nth` in creation order. */
static const IrNode *find_op(const IrGraph *g, IrOp op, int nth) {
  bool *live = ir_live(g);
  const IrNode *found = NULL;
  for (int id = 0; id < g->nodes.len && !found; id++)
    if (live[id] && ((IrNode *)g->nodes.items[id])->op == op && nth-- == 0) found = g->nodes.items[id];
  free(live);
  ck_assert_msg(found != NULL, "no %s", op_info[op].name);
  return found;
}

/* Softmax cross-entropy of a linear layer, its gradients and an SGD step:
 * logsumexp, sum(y*x), their difference and the softmax-minus-target row
 * of the backward pass are one kernel; the result matches the evaluator for
 * row widths 10, 1 and 17. */
START_TEST(row_softmax_ce_step) {
  static const int widths[] = {10, 1, 17};
  for (size_t t = 0; t < COUNT_OF(widths); t++) {
    int B = 13, n = 9, k = widths[t];
    Arena *a = arena_new();
    IrGraph *g = ir_graph_new(a, "ce.train", B);
    IrNode *x = ir_input(g, "x", shape_2(B, n)), *y = ir_input(g, "y", shape_2(B, k));
    IrNode *w = ir_param(g, "w", shape_2(n, k), (IrInit){0}), *b = ir_param(g, "b", shape_1(k), (IrInit){0});
    IrNode *logits = bin(g, OP_ADD, ir_matmul(g, x, w, false, false), b);
    IrNode *per = bin(g, OP_SUB, ir_reduce(g, OP_LOGSUMEXP, logits, 2), ir_reduce(g, OP_SUM, bin(g, OP_MUL, y, logits), 2));
    IrNode *loss = bin(g, OP_MUL, ir_reshape(g, ir_reduce(g, OP_SUM, ir_reshape(g, per, shape_1(B)), 1), shape_scalar()), K(g, 1.0 / B));
    ir_output(g, "loss", loss);
    IrNode *params[2] = {w, b};
    IrNode **grads = grad_build(g, loss, 2, params);
    for (int i = 0; i < 2; i++) ir_update(g, params[i], bin(g, OP_SUB, params[i], bin(g, OP_MUL, grads[i], K(g, 0.5))));
    IrGraph *sg = ir_simplify(g);
    FusePlan *fp = fuse_graph(sg);
    const FuseGroup *row = group_of(fp, find_op(sg, OP_LOGSUMEXP, 0));
    ck_assert_msg(row->kind == FG_REDUCE && row->rowwise, "width %d: logsumexp not in a row kernel", k);
    ck_assert_msg(group_of(fp, find_op(sg, OP_EXP, 0)) == row, "width %d: softmax row in another kernel", k);
    if (k > 1)
      ck_assert_msg(group_of(fp, find_op(sg, OP_SUM, 0)) == row, "width %d: sum(y*x) in another kernel", k);
    fuse_free(fp);
    Cmp c = run_and_compare_fill(sg, 21 + t, 0, 1, 3, mlp_fill);
    ck_assert_msg(c.bad == 0, "width %d: %d mismatches, first %s", k, c.bad, c.where);
    arena_free(a);
  }
}
END_TEST

/* Layer norm of rows of odd widths: mean, variance and the normalized row
 * are one kernel (the variance's reduction reads the mean's row value). */
START_TEST(row_layer_norm) {
  static const int widths[] = {17, 1, 10};
  for (size_t t = 0; t < COUNT_OF(widths); t++) {
    int B = 5, n = widths[t];
    Arena *a;
    IrGraph *g = graph(&a);
    IrNode *x = ir_input(g, "x", shape_2(B, n));
    IrNode *gamma = ir_input(g, "gamma", shape_1(n)), *beta = ir_input(g, "beta", shape_1(n));
    IrNode *mean = bin(g, OP_MUL, ir_reduce(g, OP_SUM, x, 2), K(g, 1.0 / n));
    IrNode *d = bin(g, OP_SUB, x, mean);
    IrNode *var = bin(g, OP_MUL, ir_reduce(g, OP_SUM, bin(g, OP_MUL, d, d), 2), K(g, 1.0 / n));
    IrNode *out = bin(g, OP_ADD, bin(g, OP_MUL, bin(g, OP_DIV, d, ir_unary(g, OP_SQRT, bin(g, OP_ADD, var, K(g, 1e-5)))), gamma), beta);
    ir_output(g, "y", out);
    if (n > 1) {
      FusePlan *fp = fuse_graph(g);
      const FuseGroup *row = group_of(fp, out);
      ck_assert_msg(row->rowwise && group_of(fp, find_op(g, OP_SUM, 0)) == row && group_of(fp, find_op(g, OP_SUM, 1)) == row,
                    "width %d: layer norm split", n);
      ck_assert_int_eq(fp->ngroups, 1);
      fuse_free(fp);
    }
    EXPECT_MATCH(g, 31 + t, -3, 3, 1);
    arena_free(a);
  }
}
END_TEST

/* Row results read outside the row kernel: the softmax feeds a matrix
 * product, logsumexp is an output, the per-row value is summed over the
 * batch; and a graph whose row group would form a cycle with another kernel
 * (a kernel both reading the row group and feeding it) is still correct. */
START_TEST(row_results_outside) {
  Arena *a;
  IrGraph *g = graph(&a);
  int B = 6, k = 17;
  IrNode *x = ir_input(g, "x", shape_2(B, k)), *v = ir_input(g, "v", shape_2(k, 3));
  IrNode *lse = ir_reduce(g, OP_LOGSUMEXP, x, 2);
  IrNode *sm = ir_unary(g, OP_EXP, bin(g, OP_SUB, x, lse));
  IrNode *mx = ir_reduce(g, OP_RMAX, sm, 2);
  ir_output(g, "lse", lse);
  ir_output(g, "p", ir_matmul(g, sm, v, false, false));
  ir_output(g, "total", ir_reduce(g, OP_SUM, ir_reshape(g, bin(g, OP_SUB, lse, mx), shape_1(B)), 1));
  FusePlan *fp = fuse_graph(g);
  ck_assert_msg(group_of(fp, sm) == group_of(fp, lse) && group_of(fp, mx) == group_of(fp, lse), "softmax split");
  ck_assert_msg(fp->node[sm->id].stored && fp->node[lse->id].stored, "row results not stored");
  fuse_free(fp);
  EXPECT_MATCH(g, 41, -40, 40, 1);
  arena_free(a);
  g = graph(&a);
  x = ir_input(g, "x", shape_2(B, B));
  IrNode *y = ir_input(g, "y", shape_1(B));
  lse = ir_reduce(g, OP_LOGSUMEXP, x, 2);
  IrNode *h2 = bin(g, OP_MUL, y, K(g, 2));
  ir_output(g, "h", bin(g, OP_ADD, ir_reshape(g, lse, shape_1(B)), h2));   /* reads the row group, holds h2 */
  ir_output(g, "z", bin(g, OP_SUB, bin(g, OP_SUB, x, lse), ir_reshape(g, h2, shape_2(B, 1))));   /* the row group reads h2 */
  EXPECT_MATCH(g, 43, -2, 2, 1);
  arena_free(a);
}
END_TEST

/* ---- what the back end produced ---- */

/* Optimized LLVM IR of graph g as text (caller frees). */
static char *optimized_ir(IrGraph *g) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  JitOptions o = {.opt_level = 3, .dump_after = f};
  char err[256];
  JitGraph *j = jit_compile(g, &o, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  fclose(f);
  jit_free(j);
  return text;
}

START_TEST(vectorized_ir) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *x = ir_input(g, "x", shape_2(64, 1000)), *y = ir_input(g, "y", shape_1(1000));
  IrNode *z = ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, x, y), ir_const(g, 1));
  ir_output(g, "e", ir_binary(g, OP_MAX, ir_unary(g, OP_TANH, z), ir_unary(g, OP_EXP, z)));
  char *ir = optimized_ir(g);
  Target host;
  char err[512], vec[32];
  ck_assert_msg(target_host(&host, err, sizeof err), "%s", err);
  snprintf(vec, sizeof vec, "<%d x float>", host.vector_floats);
  target_free(&host);
  ck_assert_msg(strstr(ir, vec) != NULL, "elementwise kernel not vectorized at %s", vec);
  ck_assert_msg(strstr(ir, "call float") == NULL, "scalar call left in the elementwise kernel");
  free(ir);
  arena_free(a);
  /* the other inline functions: a longer body, whose scalar remainder loop
   * may stay, but the main loop is vectors only */
  g = graph(&a);
  x = ir_input(g, "x", shape_2(64, 1000));
  IrNode *soft = ir_binary(g, OP_ADD, ir_unary(g, OP_SOFTPLUS, x), ir_unary(g, OP_ERFC, x));
  ir_output(g, "s", ir_binary(g, OP_MUL, soft, ir_unary(g, OP_EXPM1, x)));
  ir = optimized_ir(g);
  const char *body = strstr(ir, "vector.body:");
  ck_assert_msg(body != NULL && strstr(body, vec) != NULL, "softplus, erfc, expm1 not vectorized at %s", vec);
  const char *end = strstr(body, "!llvm.loop"), *call = strstr(body, "call float");
  ck_assert_msg(end && (!call || call > end), "scalar call in the vector loop of softplus, erfc, expm1");
  free(ir);
  arena_free(a);
  g = graph(&a);
  IrNode *p = ir_input(g, "p", shape_2(64, 100)), *q = ir_input(g, "q", shape_2(100, 70));
  ir_output(g, "m", ir_matmul(g, p, q, false, false));
  ir = optimized_ir(g);
  ck_assert_msg(strstr(ir, "@llvm.fmuladd.v") != NULL, "matrix product without vector multiply-adds");
  ck_assert_msg(strstr(ir, "target-cpu") != NULL, "functions without target-cpu");
  free(ir);
  arena_free(a);
}
END_TEST

/* Whether g's one product is computed as C^T for the host, and directly
 * (a row at a time, no tiles). */
static bool product_swapped(IrGraph *g, bool *direct) {
  Target t;
  char err[512];
  ck_assert_msg(target_host(&t, err, sizeof err), "%s", err);
  Planned *p = pipeline_plan(g, &t);
  bool swapped = false;
  for (int si = 0; si < p->mp->nsteps; si++) {
    const PlanStep *st = &p->mp->steps[si];
    if (st->kind != STEP_GROUP || p->fp->groups[st->group].kind != FG_MATMUL) continue;
    swapped = p->sched->steps[si].gemm.swap;
    *direct = p->sched->steps[si].gemm.direct;
  }
  pipeline_plan_free(p);
  target_free(&t);
  return swapped;
}

/* A narrow weight gradient computed as C^T (x^T dy, 3 columns: C^T's rows
 * fit one vector on every family) with a C-shaped w read and written in its
 * epilogue: run in C's memory order, without the gathers and scatters that
 * LLVM's vectorizer makes along C^T's rows, whose points are 3 floats apart
 * (only AVX-512 has them; elsewhere this checks the results).  Tiled (the
 * last panel short on every family) and direct; the results match the
 * evaluator.  With one column, C's points are contiguous, and the direct
 * epilogue is left to the vectorizer. */
START_TEST(transposed_epilogue_in_memory_order) {
  static const int rows[] = {128, 202, 37};
  for (size_t r = 0; r < COUNT_OF(rows); r++) {
    Arena *a;
    IrGraph *g = graph(&a);
    IrNode *x = ir_input(g, "x", shape_2(64, rows[r])), *dy = ir_input(g, "dy", shape_2(64, 3));
    IrNode *w = ir_input(g, "w", shape_2(rows[r], 3));
    IrNode *step = ir_binary(g, OP_MUL, ir_matmul(g, x, dy, true, false), ir_const(g, 0.25));
    ir_output(g, "w2", ir_binary(g, OP_SUB, ir_unary(g, OP_SQRT, ir_binary(g, OP_MUL, w, w)), step));
    bool direct = false;
    ck_assert_msg(product_swapped(g, &direct), "%d rows: not computed as C^T", rows[r]);
    ck_assert_int_eq(direct, rows[r] == 37);
    char *ir = optimized_ir(g);
    ck_assert_msg(strstr(ir, "llvm.masked.scatter") == NULL, "%d rows: C^T's epilogue scatters", rows[r]);
    ck_assert_msg(strstr(ir, "llvm.masked.gather") == NULL, "%d rows: C^T's epilogue gathers", rows[r]);
    ck_assert_msg(strstr(ir, "llvm.loop.vectorize.width") != NULL, "%d rows: C^T's epilogue not kept scalar", rows[r]);
    free(ir);
    EXPECT_MATCH(g, 19 + r, -1, 1, 1);
    arena_free(a);
  }
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *x = ir_input(g, "x", shape_2(4, 64)), *dy = ir_input(g, "dy", shape_2(4, 1));
  IrNode *w = ir_input(g, "w", shape_2(64, 1));
  ir_output(g, "w2", ir_binary(g, OP_SUB, w, ir_matmul(g, x, dy, true, false)));
  bool direct = false;
  ck_assert_msg(product_swapped(g, &direct) && direct, "[64,1]: not a direct C^T product");
  char *ir = optimized_ir(g);
  ck_assert_msg(strstr(ir, "llvm.loop.vectorize.width") == NULL, "[64,1]: C^T's epilogue kept scalar");
  free(ir);
  EXPECT_MATCH(g, 23, -1, 1, 1);
  arena_free(a);
}
END_TEST

/* Bias add and activation land in the product's epilogue; the kernel
 * listing is stable text. */
START_TEST(kernel_listing) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *x = ir_input(g, "x", shape_2(4, 8));
  IrNode *w = ir_param(g, "w", shape_2(8, 16), (IrInit){0});
  IrNode *b = ir_param(g, "b", shape_1(16), (IrInit){0});
  IrNode *h = ir_binary(g, OP_ADD, ir_matmul(g, x, w, false, false), b);
  ir_output(g, "h", ir_binary(g, OP_MAX, h, ir_const(g, 0)));
  ir_output(g, "s", ir_reduce(g, OP_LOGSUMEXP, ir_binary(g, OP_SUB, x, ir_const(g, 1)), 2));
  char err[256];
  JitGraph *j = jit_compile(g, NULL, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  jit_print_kernels(f, j);
  fclose(f);
  ck_assert_str_eq(text, "kernel 0 matmul [4,16]: %3=matmul %4=add %6=max*\n"
                         "kernel 1 reduce [4,8]: %8=sub %9=logsumexp*\n");
  free(text);
  jit_free(j);
  arena_free(a);
}
END_TEST

/* A chain of products: dead intermediates' space is reused. */
START_TEST(memory_plan_reuses) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *w = ir_param(g, "w", shape_2(64, 64), (IrInit){0});
  IrNode *h[5] = {ir_input(g, "x", shape_2(64, 64))};
  for (int i = 1; i < 5; i++) h[i] = ir_matmul(g, h[i - 1], w, false, false);
  ir_output(g, "out", h[4]);
  FusePlan *fp = fuse_graph(g);
  MemPlan *mp = plan_memory(fp, 16);
  ck_assert_int_eq(fp->ngroups, 4);
  ck_assert_int_eq(mp->bufs[mp->buf_of[h[1]->id]].offset, mp->bufs[mp->buf_of[h[3]->id]].offset);
  ck_assert_int_eq(mp->workspace, 2 * 64 * 64);   /* two buffers alternate */
  plan_free(mp);
  fuse_free(fp);
  arena_free(a);
}
END_TEST

Suite *codegen_suite(void) {
  Suite *s = suite_create("codegen");
  TCase *ops = tcase_create("ops");
  tcase_set_timeout(ops, 120);
  tcase_add_test(ops, matmul_awkward_sizes);
  tcase_add_test(ops, elementwise_ops);
  tcase_add_test(ops, inline_math_accuracy);
  tcase_add_test(ops, reductions_all_axes);
  tcase_add_test(ops, logsumexp_infinities);
  tcase_add_test(ops, movement_ops);
  tcase_add_test(ops, slices_and_pads);
  tcase_add_test(ops, rand_matches_evaluator);
  tcase_add_test(ops, updates_ordering);
  tcase_add_test(ops, vectorized_ir);
  tcase_add_test(ops, transposed_epilogue_in_memory_order);
  tcase_add_test(ops, kernel_listing);
  tcase_add_test(ops, memory_plan_reuses);
  suite_add_tcase(s, ops);
  TCase *random = tcase_create("random");
  tcase_set_timeout(random, 120);
  tcase_add_test(random, random_graphs);
  suite_add_tcase(s, random);
  TCase *mlp = tcase_create("mlp");
  tcase_set_timeout(mlp, 120);
  tcase_add_loop_test(mlp, families_and_threads, 0, (int)COUNT_OF(configs));
  tcase_add_test(mlp, threads_bit_identical);
  tcase_add_test(mlp, column_slices_threads_bit_identical);
  tcase_add_test(mlp, update_products_split_by_owner);
  tcase_add_test(mlp, mlp_train_step);
  tcase_add_test(mlp, row_softmax_ce_step);
  tcase_add_test(mlp, row_layer_norm);
  tcase_add_test(mlp, row_results_outside);
  suite_add_tcase(s, mlp);
  return s;
}
