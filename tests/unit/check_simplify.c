/* check_simplify: every rewrite of ir_simplify, constant folding, CSE and
 * dead-code removal, value preservation on random inputs, and the printed
 * simplified gradient of the course's L(a,b,c).
 *
 * Expressions are written as s-expressions over op names so each rule reads
 * as one table row: `(add x (neg y))` -> `(sub x y)`.  Leaves are the inputs
 * declared in new_graph (or params), numbers are CONSTs, `[3,4]` is a reshape/expand
 * shape and `@N` an attribute (reduce axes bitmask; transpose permutation as
 * digits, `@10` = perm [1,0]).
 */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grad.h"
#include "ir.h"
#include "testutil.h"

typedef struct {
  IrGraph *g;       /* where nodes are built */
  const char *p;    /* next unread character */
} Reader;

static void skip_space(Reader *r) {
  while (isspace((unsigned char)*r->p)) r->p++;
}

static IrOp op_named(const char *name, size_t n) {
  for (int op = 0; op < OP_COUNT; op++)
    if (strlen(op_info[op].name) == n && strncmp(op_info[op].name, name, n) == 0) return (IrOp)op;
  ck_abort_msg("no op %.*s", (int)n, name);
  return OP_COUNT;
}

static IrNode *read_expr(Reader *r) {
  skip_space(r);
  const char *start = r->p;
  if (*r->p != '(') {
    if (isdigit((unsigned char)*r->p) || *r->p == '-' || *r->p == '.') return ir_const(r->g, strtod(start, (char **)&r->p));
    while (isalnum((unsigned char)*r->p)) r->p++;
    char *name = arena_strndup(r->g->arena, start, (size_t)(r->p - start));
    IrNode *leaf = ir_find_leaf(r->g, OP_INPUT, name);
    if (!leaf) leaf = ir_find_leaf(r->g, OP_PARAM, name);
    ck_assert_msg(leaf != NULL, "no leaf %s", name);
    return leaf;
  }
  r->p++;
  while (*r->p && !isspace((unsigned char)*r->p)) r->p++;
  IrOp op = op_named(start + 1, (size_t)(r->p - start - 1));
  IrNode *src[3] = {0};
  int nsrc = 0, dims[IR_MAX_DIMS], ndim = -1;
  const char *attr = NULL;
  for (skip_space(r); *r->p != ')'; skip_space(r)) {
    if (*r->p == '[') {
      ndim = 0;
      for (r->p++; *r->p != ']'; r->p += *r->p == ',') dims[ndim++] = (int)strtol(r->p, (char **)&r->p, 10);
      r->p++;
    } else if (*r->p == '@') {
      attr = ++r->p;
      while (isdigit((unsigned char)*r->p)) r->p++;
    } else {
      src[nsrc++] = read_expr(r);
    }
  }
  r->p++;
  ck_assert_int_eq(nsrc, op_info[op].arity);
  switch (op_info[op].kind) {
  case OPK_UNARY: return ir_unary(r->g, op, src[0]);
  case OPK_BINARY: return ir_binary(r->g, op, src[0], src[1]);
  case OPK_SELECT: return ir_where(r->g, src[0], src[1], src[2]);
  case OPK_REDUCE: return ir_reduce(r->g, op, src[0], (unsigned)atoi(attr));
  case OPK_MOVE:
    if (op == OP_TRANSPOSE) {
      int perm[IR_MAX_DIMS] = {0};
      for (int k = 0; isdigit((unsigned char)attr[k]); k++) perm[k] = attr[k] - '0';
      return ir_transpose(r->g, src[0], perm);
    }
    return op == OP_RESHAPE ? ir_reshape(r->g, src[0], shape_of(ndim, dims)) : ir_expand(r->g, src[0], shape_of(ndim, dims));
  default: break;
  }
  ck_abort_msg("cannot read %s", op_info[op].name);
  return NULL;
}

/* Appends n's s-expression to buf (size BUF). */
enum { BUF = 512 };   /* bytes of an s-expression buffer */
static void show(const IrNode *n, char *buf) {
  size_t k = strlen(buf);
  char sb[96];
  if (n->op == OP_INPUT || n->op == OP_PARAM) {
    snprintf(buf + k, BUF - k, "%s", n->name);
    return;
  }
  if (n->op == OP_CONST) {
    snprintf(buf + k, BUF - k, "%.9g", n->value);
    return;
  }
  snprintf(buf + k, BUF - k, "(%s", op_info[n->op].name);
  for (int i = 0; i < n->nsrc; i++) {
    strcat(buf, " ");
    show(n->src[i], buf);
  }
  k = strlen(buf);
  if (n->op == OP_RESHAPE || n->op == OP_EXPAND) snprintf(buf + k, BUF - k, " %s", shape_str(n->shape, sb));
  if (op_info[n->op].kind == OPK_REDUCE) snprintf(buf + k, BUF - k, " @%u", n->axes);
  if (n->op == OP_TRANSPOSE) {
    snprintf(buf + k, BUF - k, " @");
    for (int d = 0; d < n->shape.ndim; d++) snprintf(buf + strlen(buf), BUF - strlen(buf), "%d", n->perm[d]);
  }
  strcat(buf, ")");
}

/* A graph with the inputs expressions may use. */
static IrGraph *new_graph(Arena *A) {
  IrGraph *g = ir_graph_new(A, "simp", 3);
  int d3[3] = {2, 3, 4};
  ir_input(g, "x", shape_2(3, 4));
  ir_input(g, "y", shape_2(3, 4));
  ir_input(g, "v", shape_1(4));
  ir_input(g, "m", shape_2(3, 1));
  ir_input(g, "s", shape_scalar());
  ir_input(g, "t", shape_of(3, d3));
  return g;
}

static const struct {
  const char *in;    /* expression as built */
  const char *out;   /* the same after ir_simplify */
} rules[] = {
    {"(add x 0)", "x"},
    {"(add 0 x)", "x"},
    {"(add x -0)", "x"},
    {"(add v (expand 0 [3,4]))", "(expand v [3,4])"},
    {"(sub x 0)", "x"},
    {"(sub 0 x)", "(neg x)"},
    {"(sub 0 (neg x))", "x"},
    {"(mul x 1)", "x"},
    {"(mul 1 x)", "x"},
    {"(mul x 0)", "(expand 0 [3,4])"},
    {"(mul 0 s)", "0"},
    {"(mul v (expand 0 [3,4]))", "(expand 0 [3,4])"},
    {"(mul x -1)", "(neg x)"},
    {"(mul -1 x)", "(neg x)"},
    {"(div x 1)", "x"},
    {"(div x -1)", "(neg x)"},
    {"(neg (neg x))", "x"},
    {"(sub x (neg y))", "(add x y)"},
    {"(add x (neg y))", "(sub x y)"},
    {"(add (neg x) y)", "(sub y x)"},
    {"(pow x 1)", "x"},
    {"(pow x 0)", "(expand 1 [3,4])"},
    {"(pow x 2)", "(mul x x)"},
    {"(pow x 3)", "(pow x 3)"},
    {"(reshape x [3,4])", "x"},
    {"(reshape (reshape t [6,4]) [24])", "(reshape t [24])"},
    {"(expand x [3,4])", "x"},
    {"(expand (expand v [3,4]) [2,3,4])", "(expand v [2,3,4])"},
    {"(reduce_sum m @2)", "m"},
    {"(reduce_sum x @2)", "(reduce_sum x @2)"},
    {"(reduce_max m @2)", "(reduce_max m @2)"},
    {"(reduce_max (expand 5 [3,4]) @3)", "(expand 5 [1,1])"},
    {"(transpose x @01)", "x"},
    {"(transpose (transpose x @10) @10)", "x"},
    {"(transpose (transpose t @120) @120)", "(transpose t @201)"},
    {"(transpose (transpose t @120) @201)", "t"},
    {"(where m x x)", "x"},
    {"(where m v v)", "(expand v [3,4])"},
    {"(where 1 x y)", "x"},
    {"(where 0 v y)", "y"},
    {"(mul x (expand 3 [3,4]))", "(mul x 3)"},
    {"(mul (expand 3 [3,4]) x)", "(mul x 3)"},
    {"(mul 2 x)", "(mul x 2)"},
    {"(mul v (expand 3 [3,4]))", "(mul v (expand 3 [3,4]))"},
    {"(add (exp 1) 2)", "4.71828183"},
    {"(sub (mul 3 (neg 2)) (sqrt 4))", "-8"},
    {"(where (cmplt 1 2) (log 1) 7)", "0"},
    {"(mul (expand 2 [4]) (expand 3 [4]))", "(expand 6 [4])"},
    {"(neg (expand 2 [4]))", "(expand -2 [4])"},
    {"(add x (mul y 0))", "x"},
    {"(mul (add s 0) (sub x (neg (neg y))))", "(mul s (sub x y))"},
};

/* Fills every leaf's buffer with numbers in [-2, 2] from a fixed sequence. */
static double **random_leaves(const IrGraph *g, uint64_t *st) {
  double **vals = xcalloc((size_t)g->nodes.len, sizeof(double *));
  for (int id = 0; id < g->nodes.len; id++) {
    IrNode *n = g->nodes.items[id];
    if (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE) continue;
    vals[id] = NEW_ARRAY(g->arena, double, shape_numel(n->shape));
    for (int64_t e = 0; e < shape_numel(n->shape); e++) {
      *st = *st * 6364136223846793005ull + 1442695040888963407ull;
      vals[id][e] = (double)(*st >> 11) / 9007199254740992.0 * 4 - 2;
    }
  }
  return vals;
}

/* Outputs of g and its simplification agree exactly on random inputs
 * (leaves matched by name). */
static void assert_same_values(const IrGraph *g, const IrGraph *ng, uint64_t seed) {
  uint64_t st = seed;
  double **va = random_leaves(g, &st);
  double **vb = xcalloc((size_t)ng->nodes.len + 1, sizeof(double *));
  for (int id = 0; id < ng->nodes.len; id++) {
    IrNode *n = ng->nodes.items[id];
    if (n->op == OP_INPUT || n->op == OP_PARAM || n->op == OP_STATE) vb[id] = va[ir_find_leaf(g, n->op, n->name)->id];
  }
  ir_eval(g, va, g->arena);
  ir_eval(ng, vb, ng->arena);
  for (int i = 0; i < g->outputs.len; i++) {
    const IrOutput *o = g->outputs.items[i];
    IrNode *no = ir_find_output(ng, o->name);
    ck_assert(shape_eq(o->node->shape, no->shape));
    for (int64_t e = 0; e < shape_numel(o->node->shape); e++)
      ck_assert_msg(va[o->node->id][e] == vb[no->id][e], "output %s[%ld]: %.17g before, %.17g after", o->name,
                    (long)e, va[o->node->id][e], vb[no->id][e]);
  }
  free(va);
  free(vb);
}

START_TEST(test_rules) {
  for (size_t i = 0; i < COUNT_OF(rules); i++) {
    Arena *A = arena_new();
    IrGraph *g = new_graph(A);
    Reader r = {g, rules[i].in};
    ir_output(g, "out", read_expr(&r));
    IrGraph *ng = ir_simplify(g);
    char buf[BUF] = "";
    show(ir_find_output(ng, "out"), buf);
    ck_assert_msg(strcmp(buf, rules[i].out) == 0, "%s simplified to %s, want %s", rules[i].in, buf, rules[i].out);
    assert_same_values(g, ng, 1000 + i);
    arena_free(A);
  }
}
END_TEST

START_TEST(test_cse_dce_provenance) {
  Arena *A = arena_new();
  IrGraph *g = new_graph(A);
  IrNode *x = ir_find_leaf(g, OP_INPUT, "x"), *y = ir_find_leaf(g, OP_INPUT, "y");
  IrNode *w = ir_param(g, "w", shape_2(3, 4), (IrInit){0});
  g->cur_loc = (Loc){"m.nn", 9, 2};
  g->cur_label = "h";
  IrNode *a = ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, x, ir_const(g, 1)), y);
  g->cur_label = "k";
  IrNode *b = ir_binary(g, OP_ADD, x, y);
  ir_unary(g, OP_EXP, b);   /* dead */
  ir_output(g, "a", a);
  ir_output(g, "b", b);
  ir_update(g, w, ir_binary(g, OP_SUB, w, ir_binary(g, OP_MUL, a, ir_const(g, 0))));
  IrGraph *ng = ir_simplify(g);
  ck_assert_str_eq(ng->name, "simp");
  ck_assert_int_eq(ng->batch, 3);
  IrNode *na = ir_find_output(ng, "a");
  ck_assert_ptr_eq(na, ir_find_output(ng, "b"));   /* x*1 + y and x + y: one node */
  ck_assert_str_eq(na->label, "h");                 /* the first one built keeps its provenance */
  ck_assert_int_eq(na->loc.line, 9);
  /* w - a*0 = w: the update keeps its leaf, and the leaf survives */
  IrUpdate *u = ng->updates.items[0];
  ck_assert_str_eq(u->leaf->name, "w");
  ck_assert_ptr_eq(u->value, u->leaf);
  /* only live nodes were copied: x, y, w, x+y */
  ck_assert_int_eq(ng->nodes.len, 4);
  ck_assert_ptr_null(ir_find_leaf(ng, OP_INPUT, "t"));
  arena_free(A);
}
END_TEST

/* Gradients of a small network simplify without changing any value. */
START_TEST(test_gradients_keep_values) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "net", 3);
  IrNode *x = ir_input(g, "x", shape_2(3, 4)), *y = ir_input(g, "y", shape_2(3, 2));
  IrNode *w1 = ir_param(g, "w1", shape_2(4, 5), (IrInit){0}), *b1 = ir_param(g, "b1", shape_1(5), (IrInit){0});
  IrNode *w2 = ir_param(g, "w2", shape_2(5, 2), (IrInit){0});
  IrNode *h = ir_binary(g, OP_MAX, ir_binary(g, OP_ADD, ir_matmul(g, x, w1, false, false), b1), ir_const(g, 0));
  IrNode *t = ir_unary(g, OP_TANH, ir_matmul(g, h, w2, false, false));
  IrNode *z = ir_binary(g, OP_SUB, ir_binary(g, OP_POW, t, ir_const(g, 2)), ir_binary(g, OP_MUL, y, ir_const(g, 1)));
  IrNode *lse = ir_reduce(g, OP_LOGSUMEXP, z, 2);
  IrNode *loss = ir_binary(g, OP_DIV, ir_reduce(g, OP_SUM, lse, 3), ir_const(g, 3));
  IrNode *wrt[3] = {w1, b1, w2};
  IrNode **d = grad_build(g, loss, 3, wrt);
  ir_output(g, "loss", loss);
  for (int i = 0; i < 3; i++) ir_update(g, wrt[i], ir_binary(g, OP_SUB, wrt[i], ir_binary(g, OP_MUL, ir_const(g, 0.1), d[i])));
  IrGraph *ng = ir_simplify(g);
  assert_same_values(g, ng, 7);
  bool *la = ir_live(g), *lb = ir_live(ng);
  int na = 0, nb = 0;
  for (int i = 0; i < g->nodes.len; i++) na += la[i];
  for (int i = 0; i < ng->nodes.len; i++) nb += lb[i];
  ck_assert_int_lt(nb, na);
  free(la);
  free(lb);
  arena_free(A);
}
END_TEST


/* ReLU's mask over a max pool's gradient moves before the unpool, onto the
 * pooled tensor, for disjoint, overlapping and padded windows, and
 * every value stays the same bit for bit: ties, zeros, -0 and NaN included. */
START_TEST(test_relu_mask_before_unpool) {
  static const IrWindow wins[] = {
      {.size = {2, 2}, .stride = {2, 2}, .dilation = {1, 1}, .groups = 1},
      {.size = {3, 3}, .stride = {2, 2}, .pad = {1, 1, 1, 1}, .dilation = {1, 1}, .groups = 1},
      {.size = {3, 3}, .stride = {1, 1}, .dilation = {1, 1}, .groups = 1},
      {.size = {3, 2}, .stride = {3, 2}, .pad = {1, 0, 1, 0}, .dilation = {1, 1}, .groups = 1},
  };
  static const double pick[] = {-1, 0, -0.0, 0.5, 1, 1, 2, NAN};
  for (size_t w = 0; w < COUNT_OF(wins); w++) {
    const IrWindow *win = &wins[w];
    int H = 7, W = 6;
    int OH = ir_window_count(H, win->size[0], win->stride[0], win->pad[0], win->pad[2], win->dilation[0]);
    int OW = ir_window_count(W, win->size[1], win->stride[1], win->pad[1], win->pad[3], win->dilation[1]);
    Arena *A = arena_new();
    IrGraph *g = ir_graph_new(A, "pool", 2);
    Shape xs = shape_of(4, (int[]){2, 3, H, W}), ds = shape_of(4, (int[]){2, 3, OH, OW});
    IrNode *x = ir_input(g, "x", xs), *d = ir_input(g, "d", ds), *zero = ir_const(g, 0);
    IrNode *routed = ir_window(g, OP_MAX_UNPOOL2D, x, d, *win, xs);
    ir_output(g, "dx", ir_where(g, ir_binary(g, OP_CMPLT, zero, x), routed, zero));
    IrGraph *ng = ir_simplify(g);
    for (int id = 0; id < ng->nodes.len; id++) {
      const IrNode *n = ng->nodes.items[id];
      ck_assert_msg(n->op != OP_WHERE || shape_eq(n->shape, ds), "window %zu: the mask is still on the map", w);
    }
    ck_assert_int_eq(ir_find_output(ng, "dx")->op, OP_MAX_UNPOOL2D);

    uint64_t st = 99 + w;
    double **va = random_leaves(g, &st);
    for (int64_t e = 0; e < shape_numel(xs); e++) {
      st = st * 6364136223846793005ull + 1442695040888963407ull;
      va[x->id][e] = pick[(st >> 33) % COUNT_OF(pick)];
    }
    va[d->id][0] = -0.0;
    double **vb = xcalloc((size_t)ng->nodes.len + 1, sizeof(double *));
    vb[ir_find_leaf(ng, OP_INPUT, "x")->id] = va[x->id];
    vb[ir_find_leaf(ng, OP_INPUT, "d")->id] = va[d->id];
    ir_eval(g, va, A);
    ir_eval(ng, vb, A);
    const double *before = va[ir_find_output(g, "dx")->id], *after = vb[ir_find_output(ng, "dx")->id];
    for (int64_t e = 0; e < shape_numel(xs); e++)
      ck_assert_msg(memcmp(&before[e], &after[e], sizeof(double)) == 0, "window %zu, dx[%ld]: %g before, %g after", w,
                    (long)e, before[e], after[e]);
    free(va);
    free(vb);
    arena_free(A);
  }
  /* a zero broadcast wider than the map makes a wider where: no rewrite */
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "pool", 2);
  Shape xs = shape_of(4, (int[]){2, 3, 4, 4}), ds = shape_of(4, (int[]){2, 3, 2, 2}), wide = shape_of(5, (int[]){5, 2, 3, 4, 4});
  IrNode *x = ir_input(g, "x", xs), *d = ir_input(g, "d", ds);
  IrNode *routed = ir_window(g, OP_MAX_UNPOOL2D, x, d, wins[0], xs);
  IrNode *dx = ir_where(g, ir_binary(g, OP_CMPLT, ir_const(g, 0), x), routed, ir_expand(g, ir_const(g, 0), wide));
  ck_assert(shape_eq(dx->shape, wide));
  ir_output(g, "dx", dx);
  ck_assert(shape_eq(ir_find_output(ir_simplify(g), "dx")->shape, wide));
  arena_free(A);
}
END_TEST


/* dL/da = b + b c^2, dL/db = (a + 2b + a c^2) + 2b, dL/dc = (b a)(2c): what
 * a person writes, sharing the forward values. */
START_TEST(test_course_gradient_text) {
  Arena *A = arena_new();
  IrGraph *g = ir_graph_new(A, "course", 0);
  IrNode *a = ir_param(g, "a", shape_scalar(), (IrInit){.kind = INIT_CONST, .a = 3});
  IrNode *b = ir_param(g, "b", shape_scalar(), (IrInit){.kind = INIT_CONST, .a = 1});
  IrNode *c = ir_param(g, "c", shape_scalar(), (IrInit){.kind = INIT_CONST, .a = -2});
  g->cur_loc = (Loc){"course.nn", 5, 3};
  g->cur_label = "L";
  Reader r = {g, "(mul b (add (add a (mul 2 b)) (mul a (pow c 2))))"};
  IrNode *L = read_expr(&r);
  g->cur_loc = (Loc){0};
  g->cur_label = NULL;
  IrNode *wrt[3] = {a, b, c};
  IrNode **d = grad_build(g, L, 3, wrt);
  ir_output(g, "L", L);
  for (int i = 0; i < 3; i++) ir_update(g, wrt[i], ir_binary(g, OP_SUB, wrt[i], ir_binary(g, OP_MUL, ir_const(g, 0.01), d[i])));
  char *text = capture_graph(ir_print, ir_simplify(g));
  ck_assert_str_eq(text,
                   "graph course {\n"
                   "  %0 = param a : [] init=3\n"
                   "  %1 = param b : [] init=1\n"
                   "  %2 = param c : [] init=-2\n"
                   "  %3 = const 2 : []                             # course.nn:5 L\n"
                   "  %4 = mul %1, %3 : []                          # course.nn:5 L\n"
                   "  %5 = add %0, %4 : []                          # course.nn:5 L\n"
                   "  %6 = mul %2, %2 : []                          # course.nn:5 L\n"
                   "  %7 = mul %0, %6 : []                          # course.nn:5 L\n"
                   "  %8 = add %5, %7 : []                          # course.nn:5 L\n"
                   "  %9 = mul %1, %8 : []                          # course.nn:5 L\n"
                   "  %10 = mul %1, %6 : []                         # course.nn:5 grad L\n"
                   "  %11 = mul %1, %0 : []                         # course.nn:5 grad L\n"
                   "  %12 = mul %2, %3 : []                         # course.nn:5 grad L\n"
                   "  %13 = mul %11, %12 : []                       # course.nn:5 grad L\n"
                   "  %14 = add %10, %1 : []                        # grad a\n"
                   "  %15 = add %8, %4 : []                         # grad b\n"
                   "  %16 = const 0.01 : []\n"
                   "  %17 = mul %14, %16 : []\n"
                   "  %18 = sub %0, %17 : []\n"
                   "  %19 = mul %15, %16 : []\n"
                   "  %20 = sub %1, %19 : []\n"
                   "  %21 = mul %13, %16 : []\n"
                   "  %22 = sub %2, %21 : []\n"
                   "  output L = %9\n"
                   "  update a = %18\n"
                   "  update b = %20\n"
                   "  update c = %22\n"
                   "}\n");
  free(text);
  arena_free(A);
}
END_TEST

Suite *simplify_suite(void) {
  Suite *s = suite_create("simplify");
  TCase *tc = tcase_create("rules");
  tcase_add_test(tc, test_rules);
  tcase_add_test(tc, test_cse_dce_provenance);
  tcase_add_test(tc, test_gradients_keep_values);
  tcase_add_test(tc, test_relu_mask_before_unpool);
  tcase_add_test(tc, test_course_gradient_text);
  suite_add_tcase(s, tc);
  return s;
}
