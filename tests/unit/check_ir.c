/* check_ir: shapes, the builder (shape rules, hash-consing, provenance),
 * outputs/updates/liveness, the text and dot printers, and the reference
 * evaluator on hand-computed values for every op kind. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "testutil.h"


static Shape sh3(int a, int b, int c) {
  int d[3] = {a, b, c};
  return shape_of(3, d);
}

START_TEST(test_shapes) {
  char buf[96];
  Shape r;
  ck_assert(ir_broadcast_shape(shape_2(3, 4), shape_1(4), &r));
  ck_assert_str_eq(shape_str(r, buf), "[3,4]");
  ck_assert(ir_broadcast_shape(shape_2(3, 1), shape_2(1, 4), &r));
  ck_assert_str_eq(shape_str(r, buf), "[3,4]");
  ck_assert(ir_broadcast_shape(shape_scalar(), sh3(2, 1, 5), &r));
  ck_assert_str_eq(shape_str(r, buf), "[2,1,5]");
  ck_assert(ir_broadcast_shape(shape_1(1), shape_2(2, 3), &r));
  ck_assert_str_eq(shape_str(r, buf), "[2,3]");
  ck_assert(!ir_broadcast_shape(shape_2(2, 3), shape_2(3, 2), &r));
  ck_assert(!ir_broadcast_shape(shape_1(3), shape_1(4), NULL));
  ck_assert_str_eq(shape_str(shape_scalar(), buf), "[]");
  ck_assert_int_eq(shape_numel(shape_scalar()), 1);
  ck_assert_int_eq(shape_numel(sh3(2, 3, 4)), 24);
  ck_assert(shape_eq(shape_1(7), shape_1(7)));
  ck_assert(!shape_eq(shape_1(7), shape_2(7, 1)));
}
END_TEST

START_TEST(test_builder_shapes) {
  char buf[96];
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "t", 0);
  IrNode *x = ir_input(g, "x", sh3(2, 3, 4));
  IrNode *m = ir_input(g, "m", shape_2(3, 4));
  ck_assert_str_eq(shape_str(ir_unary(g, OP_EXP, x)->shape, buf), "[2,3,4]");
  ck_assert_str_eq(shape_str(ir_binary(g, OP_ADD, x, ir_input(g, "v", shape_2(3, 1)))->shape, buf), "[2,3,4]");
  ck_assert_str_eq(shape_str(ir_binary(g, OP_MUL, ir_const(g, 2), m)->shape, buf), "[3,4]");
  ck_assert_str_eq(shape_str(ir_where(g, ir_input(g, "c", shape_1(4)), m, ir_const(g, 0))->shape, buf), "[3,4]");
  ck_assert_str_eq(shape_str(ir_reduce(g, OP_SUM, x, 5)->shape, buf), "[1,3,1]");
  ck_assert_str_eq(shape_str(ir_reduce(g, OP_RMAX, x, 0)->shape, buf), "[2,3,4]");
  ck_assert_str_eq(shape_str(ir_reshape(g, x, shape_2(6, 4))->shape, buf), "[6,4]");
  ck_assert_str_eq(shape_str(ir_expand(g, ir_input(g, "r", shape_2(3, 1)), sh3(5, 3, 4))->shape, buf), "[5,3,4]");
  int perm[3] = {2, 0, 1};
  ck_assert_str_eq(shape_str(ir_transpose(g, x, perm)->shape, buf), "[4,2,3]");
  IrNode *k = ir_input(g, "k", shape_2(4, 5));
  ck_assert_str_eq(shape_str(ir_matmul(g, m, k, false, false)->shape, buf), "[3,5]");
  ck_assert_str_eq(shape_str(ir_matmul(g, k, m, true, true)->shape, buf), "[5,3]");
  ck_assert_str_eq(shape_str(ir_matmul(g, m, m, false, true)->shape, buf), "[3,3]");
  ck_assert_str_eq(shape_str(ir_matmul(g, m, m, true, false)->shape, buf), "[4,4]");
  ck_assert_str_eq(shape_str(ir_rand(g, ir_const(g, 1), shape_2(2, 2), 9)->shape, buf), "[2,2]");
  arena_free(A);
}
END_TEST

START_TEST(test_hash_consing) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "t", 0);
  IrNode *x = ir_input(g, "x", shape_2(2, 3));
  ck_assert_ptr_eq(ir_input(g, "x", shape_2(2, 3)), x);
  ck_assert_ptr_ne(ir_param(g, "x", shape_2(2, 3), (IrInit){0}), x);   /* op is part of a leaf's key */
  g->cur_label = "first";
  IrNode *e = ir_unary(g, OP_EXP, x);
  g->cur_label = "second";
  ck_assert_ptr_eq(ir_unary(g, OP_EXP, x), e);
  ck_assert_str_eq(e->label, "first");   /* a reused node keeps its provenance */
  ck_assert_ptr_ne(ir_unary(g, OP_LOG, x), e);
  IrNode *two = ir_const(g, 2);
  ck_assert_ptr_eq(ir_const(g, 2.0), two);
  ck_assert_ptr_ne(ir_const(g, 0.0), ir_const(g, -0.0));
  ck_assert_ptr_eq(ir_const(g, NAN), ir_const(g, -NAN));
  ck_assert_ptr_eq(ir_binary(g, OP_ADD, x, two), ir_binary(g, OP_ADD, x, two));
  ck_assert_ptr_ne(ir_binary(g, OP_ADD, x, two), ir_binary(g, OP_ADD, two, x));
  ck_assert_ptr_ne(ir_reduce(g, OP_SUM, x, 1), ir_reduce(g, OP_SUM, x, 2));
  ck_assert_ptr_ne(ir_reshape(g, x, shape_1(6)), ir_reshape(g, x, shape_2(3, 2)));
  ck_assert_ptr_ne(ir_matmul(g, x, x, false, true), ir_matmul(g, x, x, true, false));
  ck_assert_ptr_ne(ir_rand(g, two, shape_1(3), 1), ir_rand(g, two, shape_1(3), 2));
  ck_assert_ptr_eq(ir_rand(g, two, shape_1(3), 1), ir_rand(g, two, shape_1(3), 1));
  int p[2] = {1, 0};
  ck_assert_ptr_eq(ir_transpose(g, x, p), ir_transpose(g, x, p));
  /* ids follow creation order and index the node list */
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.items[i];
    ck_assert_int_eq(n->id, i);
    for (int s = 0; s < n->nsrc; s++) ck_assert_int_lt(n->src[s]->id, n->id);
  }
  /* enough nodes to make the table grow several times */
  IrNode *acc = x;
  for (int i = 0; i < 2000; i++) acc = ir_binary(g, OP_ADD, acc, ir_const(g, i));
  IrNode *again = x;
  for (int i = 0; i < 2000; i++) again = ir_binary(g, OP_ADD, again, ir_const(g, i));
  ck_assert_ptr_eq(again, acc);
  ck_assert_ptr_eq(ir_find_leaf(g, OP_INPUT, "x"), x);
  ck_assert_ptr_null(ir_find_leaf(g, OP_STATE, "x"));
  arena_free(A);
}
END_TEST

START_TEST(test_leaf_shape_clash) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "t", 0);
  ir_input(g, "x", shape_1(3));
  ir_input(g, "x", shape_1(4));   /* the same leaf with two shapes is a compiler bug */
}
END_TEST

START_TEST(test_bad_broadcast) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "t", 0);
  ir_binary(g, OP_ADD, ir_input(g, "x", shape_1(3)), ir_input(g, "y", shape_1(4)));
}
END_TEST

START_TEST(test_bad_matmul) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "t", 0);
  ir_matmul(g, ir_input(g, "x", shape_2(2, 3)), ir_input(g, "y", shape_2(2, 3)), false, false);
}
END_TEST

START_TEST(test_outputs_live_rebuild) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "t", 0);
  IrNode *x = ir_input(g, "x", shape_1(3));
  IrNode *w = ir_param(g, "w", shape_1(3), (IrInit){.kind = INIT_CONST, .a = 1});
  IrNode *dead = ir_unary(g, OP_SIN, x);
  IrNode *y = ir_binary(g, OP_MUL, x, w);
  IrNode *nw = ir_binary(g, OP_SUB, w, ir_const(g, 0.1));
  ir_output(g, "y", y);
  ir_update(g, w, nw);
  ck_assert_ptr_eq(ir_find_output(g, "y"), y);
  ck_assert_ptr_null(ir_find_output(g, "z"));
  bool *live = ir_live(g);
  ck_assert(live[x->id] && live[w->id] && live[y->id] && live[nw->id]);
  ck_assert(!live[dead->id]);
  free(live);
  /* rebuilding into another graph keeps attributes and provenance */
  IrGraph *h = ir_graph_new(A, "h", 0);
  g->cur_label = "sum";
  IrNode *r = ir_reduce(g, OP_SUM, y, 1);
  IrNode *hx = ir_rebuild(h, x, NULL), *hw = ir_rebuild(h, w, NULL);
  ck_assert_str_eq(hw->name, "w");
  ck_assert_int_eq(hw->init.kind, INIT_CONST);
  IrNode *src[2] = {hx, hw};
  IrNode *hy = ir_rebuild(h, y, src);
  IrNode *hr = ir_rebuild(h, r, &hy);
  ck_assert_int_eq(hr->op, OP_SUM);
  ck_assert_uint_eq(hr->axes, 1);
  ck_assert_str_eq(hr->label, "sum");
  ck_assert_ptr_eq(hr->src[0], hy);
  arena_free(A);
}
END_TEST

/* A tiny training step: every printed feature once. */
static IrGraph *small_graph(Arena *A) {
  IrGraph *g = ir_graph_new(A, "xor.train", 4);
  IrNode *x = ir_input(g, "x", shape_2(4, 2));
  g->cur_loc = (Loc){"examples/xor.nn", 6, 3};
  g->cur_label = "h";
  IrNode *w = ir_param(g, "h.w", shape_2(2, 3), (IrInit){.kind = INIT_XAVIER});
  IrNode *h = ir_matmul(g, x, w, false, false);
  g->cur_loc = (Loc){"examples/xor.nn", 7, 1};
  g->cur_label = "loss";
  IrNode *s = ir_reduce(g, OP_SUM, h, 3);
  IrNode *loss = ir_binary(g, OP_MUL, s, ir_const(g, 0.25));
  g->cur_loc = (Loc){0};
  g->cur_label = NULL;
  int p[2] = {1, 0};
  IrNode *gw = ir_transpose(g, ir_matmul(g, ir_expand(g, ir_const(g, 0.25), shape_2(4, 3)), x, true, false), p);
  IrNode *nw = ir_binary(g, OP_SUB, w, ir_binary(g, OP_MUL, ir_const(g, 0.1), gw));
  IrNode *t = ir_state(g, "t", shape_scalar(), (IrInit){.kind = INIT_ZEROS});
  IrNode *drop = ir_rand(g, t, shape_1(2), 7);
  ir_output(g, "loss", loss);
  ir_output(g, "mask", drop);
  ir_update(g, w, nw);
  ir_update(g, t, ir_binary(g, OP_ADD, t, ir_const(g, 1)));
  return g;
}

START_TEST(test_print) {
  Arena *A = arena_new();
  IrGraph *g = small_graph(A);
  ir_unary(g, OP_EXP, g->nodes.items[0]);   /* dead: not printed */
  char *text = capture_graph(ir_print, g);
  ck_assert_str_eq(text,
                   "graph xor.train (batch 4) {\n"
                   "  %0 = input x : [4,2]\n"
                   "  %1 = param h.w : [2,3] init=xavier            # xor.nn:6 h\n"
                   "  %2 = matmul %0, %1 : [4,3]                    # xor.nn:6 h\n"
                   "  %3 = reduce_sum %2 axes=[0,1] : [1,1]         # xor.nn:7 loss\n"
                   "  %4 = const 0.25 : []                          # xor.nn:7 loss\n"
                   "  %5 = mul %3, %4 : [1,1]                       # xor.nn:7 loss\n"
                   "  %6 = expand %4 : [4,3]\n"
                   "  %7 = matmul %6, %0 ta : [3,2]\n"
                   "  %8 = transpose %7 perm=[1,0] : [2,3]\n"
                   "  %9 = const 0.1 : []\n"
                   "  %10 = mul %9, %8 : [2,3]\n"
                   "  %11 = sub %1, %10 : [2,3]\n"
                   "  %12 = state t : [] init=zeros\n"
                   "  %13 = rand %12 seed=7 : [2]\n"
                   "  %14 = const 1 : []\n"
                   "  %15 = add %12, %14 : []\n"
                   "  output loss = %5\n"
                   "  output mask = %13\n"
                   "  update h.w = %11\n"
                   "  update t = %15\n"
                   "}\n");
  free(text);
  arena_free(A);
}
END_TEST

START_TEST(test_print_values) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "v", 0);
  double v[3] = {0.5, -1, 2};
  IrNode *p = ir_param(g, "v", shape_1(3), (IrInit){.kind = INIT_VALUES, .values = v});
  v[0] = 99;   /* the builder keeps its own copy */
  IrNode *q = ir_param(g, "q", shape_2(2, 2), (IrInit){.kind = INIT_NORMAL, .a = 0, .b = 0.01});
  IrNode *k = ir_param(g, "k", shape_2(2, 2), (IrInit){.kind = INIT_KAIMING, .fan_in = 8, .fan_out = 2});
  ir_output(g, "o", ir_binary(g, OP_ADD, ir_reduce(g, OP_LOGSUMEXP, ir_binary(g, OP_ADD, q, k), 2), p));
  char *text = capture_graph(ir_print, g);
  ck_assert_str_eq(text,
                   "graph v {\n"
                   "  %0 = param v : [3] init=[0.5,-1,2]\n"
                   "  %1 = param q : [2,2] init=normal(0,0.01)\n"
                   "  %2 = param k : [2,2] init=kaiming(8,2)\n"
                   "  %3 = add %1, %2 : [2,2]\n"
                   "  %4 = logsumexp %3 axes=[1] : [2,1]\n"
                   "  %5 = add %4, %0 : [2,3]\n"
                   "  output o = %5\n"
                   "}\n");
  free(text);
  arena_free(A);
}
END_TEST

START_TEST(test_dot) {
  Arena *A = arena_new();
  IrGraph *g = small_graph(A);
  char *dot = capture_graph(ir_print_dot, g);
  ck_assert_ptr_nonnull(strstr(dot, "digraph \"xor.train\" {"));
  ck_assert_ptr_nonnull(strstr(dot, "n0 [label=\"%0 input x\\n[4,2]\", shape=ellipse"));
  ck_assert_ptr_nonnull(strstr(dot, "n2 [label=\"%2 matmul\\n[4,3]\\nh\"];"));
  ck_assert_ptr_nonnull(strstr(dot, "n0 -> n2;"));
  ck_assert_ptr_nonnull(strstr(dot, "n1 -> n2;"));
  ck_assert_ptr_nonnull(strstr(dot, "n5 -> out0;"));
  ck_assert_ptr_nonnull(strstr(dot, "out0 [label=\"output loss\", shape=doubleoctagon"));
  ck_assert_ptr_nonnull(strstr(dot, "n11 -> upd0;"));
  ck_assert_ptr_null(strstr(dot, "n16"));   /* exactly the 16 live nodes */
  char *again = capture_graph(ir_print_dot, g);
  ck_assert_str_eq(dot, again);
  free(again);
  free(dot);
  arena_free(A);
}
END_TEST

/* ---- the evaluator ---- */

/* Hand-computed scalar cases: every elementwise op. */
static const struct {
  IrOp op;             /* op under test */
  double a, b, c;      /* sources (as many as the op takes) */
  double want;         /* by hand */
} scalar_cases[] = {
    {OP_NEG, 2.5, 0, 0, -2.5},       {OP_EXP, 0, 0, 0, 1},           {OP_EXP, 1, 0, 0, 2.718281828459045},
    {OP_LOG, 1, 0, 0, 0},            {OP_SQRT, 9, 0, 0, 3},          {OP_ABS, -4, 0, 0, 4},
    {OP_SIGN, -3, 0, 0, -1},         {OP_SIGN, 0, 0, 0, 0},          {OP_SIGN, 0.5, 0, 0, 1},
    {OP_SIN, 0, 0, 0, 0},            {OP_COS, 0, 0, 0, 1},           {OP_TANH, 0, 0, 0, 0},
    {OP_ADD, 2, 3, 0, 5},            {OP_SUB, 2, 3, 0, -1},          {OP_MUL, 2, 3, 0, 6},
    {OP_DIV, 3, 2, 0, 1.5},          {OP_POW, 2, 10, 0, 1024},       {OP_POW, -2, 3, 0, -8},
    {OP_POW1M, 0.5, 2, 0, 0.75},     {OP_POW1M, 0.999, 1, 0, 0.001},
    {OP_MAX, 2, 3, 0, 3},            {OP_MAX, 3, 2, 0, 3},           {OP_MIN, 2, 3, 0, 2},
    {OP_MIN, 3, 2, 0, 2},            {OP_CMPLT, 2, 3, 0, 1},         {OP_CMPLT, 3, 3, 0, 0},
    {OP_WHERE, 1, 7, 8, 7},          {OP_WHERE, 0, 7, 8, 8},         {OP_WHERE, -0.5, 7, 8, 7},
    {OP_EXPM1, 1, 0, 0, 1.718281828459045},    {OP_SOFTPLUS, 0, 0, 0, 0.6931471805599453},
    {OP_SOFTPLUS, 800, 0, 0, 800},             {OP_ERFC, 1, 0, 0, 0.15729920705028513},
    {OP_ERFC, -1, 0, 0, 1.8427007929497148},
};

START_TEST(test_eval_scalar_ops) {
  bool seen[OP_COUNT] = {0};
  for (size_t i = 0; i < COUNT_OF(scalar_cases); i++) {
    seen[scalar_cases[i].op] = true;
    Arena *A = arena_new();
    IrGraph *g = ir_graph_new(A, "s", 0);
    IrNode *s[3];
    double v[3] = {scalar_cases[i].a, scalar_cases[i].b, scalar_cases[i].c};
    const char *names[3] = {"a", "b", "c"};
    IrOp op = scalar_cases[i].op;
    for (int k = 0; k < op_info[op].arity; k++) s[k] = ir_input(g, names[k], shape_scalar());
    IrNode *n = op_info[op].kind == OPK_UNARY    ? ir_unary(g, op, s[0])
                : op_info[op].kind == OPK_BINARY ? ir_binary(g, op, s[0], s[1])
                                                 : ir_where(g, s[0], s[1], s[2]);
    ir_output(g, "o", n);
    double **vals = xcalloc((size_t)g->nodes.len, sizeof(double *));
    for (int k = 0; k < op_info[op].arity; k++) vals[s[k]->id] = &v[k];
    ir_eval(g, vals, A);
    ck_assert_msg(fabs(vals[n->id][0] - scalar_cases[i].want) < 1e-12, "%s(%g, %g, %g) = %.17g, want %.17g",
                  op_info[op].name, v[0], v[1], v[2], vals[n->id][0], scalar_cases[i].want);
    free(vals);
    arena_free(A);
  }
  for (int op = 0; op < OP_COUNT; op++) {
    OpKind k = op_info[op].kind;
    ck_assert_msg(seen[op] || (k != OPK_UNARY && k != OPK_BINARY && k != OPK_SELECT),
                  "elementwise op %s has no evaluator case", op_info[op].name);
  }
}
END_TEST

/* Evaluates node n of g with the given leaf values (leaf, buffer pairs). */
static double *eval_with(IrGraph *g, IrNode *n, int nleaf, IrNode **leaf, double **buf) {
  ir_output(g, arena_printf(g->arena, "o%d", g->outputs.len), n);
  double **vals = xcalloc((size_t)g->nodes.len, sizeof(double *));
  for (int i = 0; i < nleaf; i++) vals[leaf[i]->id] = buf[i];
  ir_eval(g, vals, g->arena);
  double *r = vals[n->id];
  free(vals);
  return r;
}

static void assert_vals(const double *got, const double *want, int n) {
  for (int i = 0; i < n; i++) ck_assert_msg(fabs(got[i] - want[i]) < 1e-12, "[%d] = %g, want %g", i, got[i], want[i]);
}

START_TEST(test_eval_broadcast_reduce) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "b", 0);
  IrNode *x = ir_input(g, "x", shape_2(2, 3)), *col = ir_input(g, "col", shape_2(2, 1)), *row = ir_input(g, "row", shape_1(3));
  double xv[6] = {1, 2, 3, 4, 5, 6}, cv[2] = {10, 20}, rv[3] = {100, 200, 300};
  IrNode *leaves[3] = {x, col, row};
  double *bufs[3] = {xv, cv, rv};
  double w1[6] = {11, 12, 13, 24, 25, 26};
  assert_vals(eval_with(g, ir_binary(g, OP_ADD, x, col), 3, leaves, bufs), w1, 6);
  double w3[6] = {110, 220, 330, 210, 420, 630};
  assert_vals(eval_with(g, ir_binary(g, OP_MUL, ir_binary(g, OP_ADD, col, ir_const(g, 1)), ir_binary(g, OP_MUL, row, ir_const(g, 0.1))), 3, leaves, bufs), w3, 6);
  double w5[6] = {1, 10, 10, 4, 20, 20};
  IrNode *c5 = ir_binary(g, OP_CMPLT, row, ir_const(g, 150));   /* [1,0,0] per row */
  assert_vals(eval_with(g, ir_where(g, c5, x, col), 3, leaves, bufs), w5, 6);
  double s0[3] = {5, 7, 9}, s1[2] = {6, 15}, sall[1] = {21};
  assert_vals(eval_with(g, ir_reduce(g, OP_SUM, x, 1), 3, leaves, bufs), s0, 3);
  assert_vals(eval_with(g, ir_reduce(g, OP_SUM, x, 2), 3, leaves, bufs), s1, 2);
  assert_vals(eval_with(g, ir_reduce(g, OP_SUM, x, 3), 3, leaves, bufs), sall, 1);
  double m1[2] = {3, 6};
  assert_vals(eval_with(g, ir_reduce(g, OP_RMAX, x, 2), 3, leaves, bufs), m1, 2);
  double l1[2] = {3 + log(1 + exp(-1) + exp(-2)), 6 + log(1 + exp(-1) + exp(-2))};
  assert_vals(eval_with(g, ir_reduce(g, OP_LOGSUMEXP, x, 2), 3, leaves, bufs), l1, 2);
  /* stable for large arguments, where e^x overflows */
  IrNode *big = ir_binary(g, OP_MUL, x, ir_const(g, 1000));
  double l2[2] = {3000, 6000};
  assert_vals(eval_with(g, ir_reduce(g, OP_LOGSUMEXP, big, 2), 3, leaves, bufs), l2, 2);
  arena_free(A);
}
END_TEST

START_TEST(test_eval_move_matmul_rand) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "m", 0);
  IrNode *x = ir_input(g, "x", shape_2(2, 3)), *y = ir_input(g, "y", shape_2(3, 2)), *v = ir_input(g, "v", shape_1(3));
  double xv[6] = {1, 2, 3, 4, 5, 6}, yv[6] = {1, 0, 0, 1, 2, 3}, vv[3] = {7, 8, 9};
  IrNode *leaves[3] = {x, y, v};
  double *bufs[3] = {xv, yv, vv};
  double r[6] = {1, 2, 3, 4, 5, 6};
  assert_vals(eval_with(g, ir_reshape(g, x, shape_2(3, 2)), 3, leaves, bufs), r, 6);
  double e[6] = {7, 8, 9, 7, 8, 9};
  assert_vals(eval_with(g, ir_expand(g, v, shape_2(2, 3)), 3, leaves, bufs), e, 6);
  double e2[6] = {7, 7, 8, 8, 9, 9};
  assert_vals(eval_with(g, ir_expand(g, ir_reshape(g, v, shape_2(3, 1)), shape_2(3, 2)), 3, leaves, bufs), e2, 6);
  int p[2] = {1, 0};
  double t[6] = {1, 4, 2, 5, 3, 6};
  assert_vals(eval_with(g, ir_transpose(g, x, p), 3, leaves, bufs), t, 6);
  int p3[3] = {2, 0, 1};   /* [1,2,3] -> [3,1,2]: out[k,0,j] = in[0,j,k] */
  double t3[6] = {1, 3, 5, 2, 4, 6};
  assert_vals(eval_with(g, ir_transpose(g, ir_reshape(g, x, sh3(1, 3, 2)), p3), 3, leaves, bufs), t3, 6);
  double mm[4] = {7, 11, 16, 23};                       /* x @ y */
  assert_vals(eval_with(g, ir_matmul(g, x, y, false, false), 3, leaves, bufs), mm, 4);
  assert_vals(eval_with(g, ir_matmul(g, y, x, true, true), 3, leaves, bufs), (double[]){7, 16, 11, 23}, 4);
  IrNode *xt = ir_transpose(g, x, p), *yt = ir_transpose(g, y, p);
  assert_vals(eval_with(g, ir_matmul(g, xt, y, true, false), 3, leaves, bufs), mm, 4);
  assert_vals(eval_with(g, ir_matmul(g, x, yt, false, true), 3, leaves, bufs), mm, 4);
  IrNode *cnt = ir_const(g, 5);
  double *u = eval_with(g, ir_rand(g, cnt, shape_1(3), 11), 3, leaves, bufs);
  for (int i = 0; i < 3; i++) {
    ck_assert(u[i] >= 0 && u[i] < 1);
    ck_assert(u[i] == (double)ir_rand_uniform(11, 5, (uint32_t)i));
  }
  ck_assert(u[0] != u[1]);
  /* a shard starting at element 2 draws the numbers 2.. of the whole */
  double *w = eval_with(g, ir_rand_from(g, cnt, shape_1(3), 11, 2), 3, leaves, bufs);
  ck_assert(w[0] == u[2]);
  ck_assert(w[2] == (double)ir_rand_uniform(11, 5, 4));
  ck_assert_ptr_ne(ir_rand_from(g, cnt, shape_1(3), 11, 2), ir_rand(g, cnt, shape_1(3), 11));
  arena_free(A);
}
END_TEST

START_TEST(test_eval_preset_and_missing) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "p", 0);
  IrNode *x = ir_input(g, "x", shape_1(2));
  IrNode *e = ir_unary(g, OP_EXP, x);
  IrNode *y = ir_binary(g, OP_MUL, e, ir_const(g, 2));
  ir_output(g, "y", y);
  IrNode *side = ir_unary(g, OP_NEG, e);                                     /* dead, computable */
  IrNode *other = ir_unary(g, OP_NEG, ir_input(g, "unbound", shape_1(2)));   /* dead, leaf without value */
  double xv[2] = {0, 0}, ev[2] = {3, 4};
  double **vals = xcalloc((size_t)g->nodes.len, sizeof(double *));
  vals[x->id] = xv;
  vals[e->id] = ev;   /* preset: exp is not recomputed */
  ir_eval(g, vals, A);
  ck_assert(vals[e->id] == ev && ev[0] == 3);
  assert_vals(vals[y->id], (double[]){6, 8}, 2);
  assert_vals(vals[side->id], (double[]){-3, -4}, 2);
  ck_assert_ptr_null(vals[other->id]);
  free(vals);
  arena_free(A);
}
END_TEST

START_TEST(test_eval_missing_leaf) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "p", 0);
  ir_output(g, "y", ir_unary(g, OP_NEG, ir_param(g, "w", shape_1(2), (IrInit){0})));
  double *vals[4] = {0};
  ir_eval(g, vals, A);
}
END_TEST

Suite *ir_suite(void) {
  Suite *s = suite_create("ir");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_shapes);
  tcase_add_test(tc, test_builder_shapes);
  tcase_add_test(tc, test_hash_consing);
  tcase_add_test_raise_signal(tc, test_leaf_shape_clash, SIGABRT);
  tcase_add_test_raise_signal(tc, test_bad_broadcast, SIGABRT);
  tcase_add_test_raise_signal(tc, test_bad_matmul, SIGABRT);
  tcase_add_test(tc, test_outputs_live_rebuild);
  tcase_add_test(tc, test_print);
  tcase_add_test(tc, test_print_values);
  tcase_add_test(tc, test_dot);
  tcase_add_test(tc, test_eval_scalar_ops);
  tcase_add_test(tc, test_eval_broadcast_reduce);
  tcase_add_test(tc, test_eval_move_matmul_rand);
  tcase_add_test(tc, test_eval_preset_and_missing);
  tcase_add_test_raise_signal(tc, test_eval_missing_leaf, SIGABRT);
  suite_add_tcase(s, tc);
  return s;
}
