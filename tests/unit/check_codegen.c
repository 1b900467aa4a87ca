/* Tests of the LLVM back end (fuse, plan, codegen, gemm, jit): every result
 * of generated code is compared with the reference evaluator (ir_eval, in
 * double) on the same inputs.  Tolerance: |jit - eval| <= 1e-5 + 1e-4 |eval|
 * (float32 arithmetic, FMA contraction and reassociated sums against exact
 * double); NaN matches NaN and infinities match themselves.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "grad.h"
#include "ir.h"
#include "jit.h"

#define ATOL 1e-5
#define RTOL 1e-4

/* Deterministic values in [lo, hi). */
static double rnd(uint64_t *s, double lo, double hi) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

static bool close_enough(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (isinf(b)) return a == b;
  return fabs(a - b) <= ATOL + RTOL * fabs(b);
}

typedef struct {
  int bad;            /* elements out of tolerance */
  char where[160];    /* the first one */
} Cmp;

static void cmp_vals(Cmp *c, const char *what, const float *got, const double *want, int64_t n) {
  for (int64_t e = 0; e < n; e++)
    if (!close_enough(got[e], want[e]) && c->bad++ == 0)
      snprintf(c->where, sizeof c->where, "%s[%lld]: jit %.9g, eval %.9g", what, (long long)e, got[e], want[e]);
}

/* Runs g through the JIT `steps` times and the evaluator alongside (feeding
 * updates back), comparing outputs and updated leaves; leaf values come from
 * `seed` in [lo, hi).  Returns the number of mismatches (0 = pass). */
static Cmp run_and_compare(IrGraph *g, uint64_t seed, double lo, double hi, int steps) {
  Cmp c = {0, ""};
  char err[512];
  JitGraph *j = jit_compile(g, NULL, err, sizeof err);
  ck_assert_msg(j != NULL, "jit_compile: %s", err);
  int nl = jit_nleaves(j);
  float **bufs = calloc((size_t)nl + 1, sizeof(float *));
  double **vals = calloc((size_t)g->nodes.len + 1, sizeof(double *));
  double **leafv = calloc((size_t)nl + 1, sizeof(double *));
  for (int i = 0; i < nl; i++) {
    const IrNode *x = jit_leaf(j, i);
    int64_t n = shape_numel(x->shape);
    bufs[i] = aligned_alloc(64, (size_t)(n + 16) * sizeof(float));
    leafv[i] = calloc((size_t)n + 1, sizeof(double));
    for (int64_t e = 0; e < n; e++) {
      bufs[i][e] = (float)rnd(&seed, lo, hi);
      leafv[i][e] = bufs[i][e];
    }
    jit_bind(j, i, bufs[i]);
  }
  for (int step = 0; step < steps && c.bad == 0; step++) {
    Arena *scratch = arena_new();
    memset(vals, 0, sizeof(double *) * (size_t)(g->nodes.len + 1));
    for (int i = 0; i < nl; i++) vals[jit_leaf(j, i)->id] = leafv[i];
    ir_eval(g, vals, scratch);
    jit_run(j);
    for (int i = 0; i < g->outputs.len; i++) {
      const IrOutput *o = g->outputs.items[i];
      cmp_vals(&c, o->name, jit_output(j, o->name), vals[o->node->id], shape_numel(o->node->shape));
    }
    /* new leaf values: the evaluator's updates (as float, like the JIT's) */
    double **next = calloc((size_t)nl + 1, sizeof(double *));
    for (int i = 0; i < g->updates.len; i++) {
      const IrUpdate *u = g->updates.items[i];
      for (int k = 0; k < nl; k++) {
        if (jit_leaf(j, k) != u->leaf) continue;
        int64_t n = shape_numel(u->leaf->shape);
        cmp_vals(&c, u->leaf->name, bufs[k], vals[u->value->id], n);
        next[k] = calloc((size_t)n + 1, sizeof(double));
        for (int64_t e = 0; e < n; e++) next[k][e] = bufs[k][e];
      }
    }
    for (int k = 0; k < nl; k++)
      if (next[k]) free(leafv[k]), leafv[k] = next[k];
    free(next);
    arena_free(scratch);
  }
  for (int i = 0; i < nl; i++) free(bufs[i]), free(leafv[i]);
  free(bufs);
  free(leafv);
  free(vals);
  jit_free(j);
  return c;
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
  static const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {65, 129, 33}, {8, 32, 32}, {9, 1, 33}};
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
      bool positive_only = op == OP_LOG || op == OP_SQRT || op == OP_POW;
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

/* Every reduction over every axis set of a [3,4,5] input, with an
 * elementwise producer fused in. */
START_TEST(reductions_all_axes) {
  static const IrOp ops[] = {OP_SUM, OP_RMAX, OP_LOGSUMEXP};
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

/* Dropout-style masks: the same bits as ir_rand_uniform, counter from a state. */
START_TEST(rand_matches_evaluator) {
  Arena *a;
  IrGraph *g = graph(&a);
  IrNode *step = ir_state(g, "step", shape_scalar(), (IrInit){0});
  IrNode *x = ir_input(g, "x", shape_2(7, 33));
  IrNode *r = ir_rand(g, step, shape_2(7, 33), 1234);
  ir_output(g, "r", r);
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

Suite *codegen_suite(void) {
  Suite *s = suite_create("codegen");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, matmul_awkward_sizes);
  tcase_add_test(tc, elementwise_ops);
  tcase_add_test(tc, reductions_all_axes);
  tcase_add_test(tc, logsumexp_infinities);
  tcase_add_test(tc, movement_ops);
  tcase_add_test(tc, rand_matches_evaluator);
  tcase_add_test(tc, updates_ordering);
  suite_add_tcase(s, tc);
  return s;
}
