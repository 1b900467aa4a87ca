/* check_lower: lowering and the optimizer IR, checked by evaluating the
 * graphs with the reference evaluator on tiny models with hand-checked
 * values: shapes and parameter counts, activations, losses, dropout, the
 * normalizations, every optimizer's formula over a few steps, clipping, and
 * XOR trained to a small loss. */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "init.h"
#include "jit.h"
#include "lower.h"
#include "sema.h"

/* ---- compiling a source string ---- */

static Model *compile(Arena *a, const char *text) {
  char *msg = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&msg, &len);
  Source src = {"t.nn", text, strlen(text)};
  Diag d;
  diag_init(&d, out, &src);
  AstProgram *p = parse_program(&src, a, &d);
  Model *m = p && !diag_errors(&d) ? sema_check(p, a, &d) : NULL;
  fclose(out);
  ck_assert_msg(m != NULL, "%s", msg);
  free(msg);
  return m;
}

static Model *compile_file(Arena *a, const char *path) {
  size_t len;
  char *text = read_file(path, &len);
  ck_assert_ptr_nonnull(text);
  char *copy = arena_strdup(a, text);
  free(text);
  return compile(a, copy);
}

/* ---- a tiny runner: persistent leaf values by name, like the runtime ---- */

typedef struct {
  const char *name;   /* leaf name */
  double *v;          /* its value */
  int64_t n;          /* number of elements */
} Slot;

typedef struct {
  Slot slots[96];     /* leaves seen so far */
  int n;              /* slots in use */
  uint64_t rng;       /* xorshift state for random initializers */
} Store;

static double uniform01(Store *s) {
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  return ((double)(s->rng >> 11) + 0.5) / 9007199254740992.0;
}

static double normal01(Store *s) { return sqrt(-2 * log(uniform01(s))) * cos(6.283185307179586 * uniform01(s)); }

static void init_values(Store *s, const IrInit *in, double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) switch (in->kind) {
    case INIT_ZEROS: v[i] = 0; break;
    case INIT_CONST: v[i] = in->a; break;
    case INIT_VALUES: v[i] = in->values[i]; break;
    case INIT_NORMAL: v[i] = in->a + in->b * normal01(s); break;
    case INIT_UNIFORM: v[i] = in->a + (in->b - in->a) * uniform01(s); break;
    case INIT_XAVIER: v[i] = sqrt(2.0 / (in->fan_in + in->fan_out)) * normal01(s); break;
    case INIT_KAIMING: v[i] = sqrt(2.0 / in->fan_in) * normal01(s); break;
    }
}

/* The value of leaf `name`, created (initialized from `leaf`) on first use. */
static double *slot(Store *s, const char *name, const IrNode *leaf) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->slots[i].name, name) == 0) return s->slots[i].v;
  ck_assert_msg(leaf != NULL, "no value for %s", name);
  ck_assert_int_lt(s->n, (int)COUNT_OF(s->slots));
  int64_t n = shape_numel(leaf->shape);
  Slot *sl = &s->slots[s->n++];
  *sl = (Slot){.name = strdup(name), .v = calloc((size_t)n, sizeof(double)), .n = n};
  if (leaf->op != OP_INPUT) init_values(s, &leaf->init, sl->v, n);
  return sl->v;
}

static void set(Store *s, const char *name, const double *v, int64_t n) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->slots[i].name, name) == 0) {
      ck_assert_int_eq(s->slots[i].n, n);
      memcpy(s->slots[i].v, v, sizeof(double) * (size_t)n);
      return;
    }
  ck_assert_int_lt(s->n, (int)COUNT_OF(s->slots));
  Slot *sl = &s->slots[s->n++];
  *sl = (Slot){.name = strdup(name), .v = malloc(sizeof(double) * (size_t)n), .n = n};
  memcpy(sl->v, v, sizeof(double) * (size_t)n);
}

static void store_free(Store *s) {
  for (int i = 0; i < s->n; i++) {
    free((void *)s->slots[i].name);
    free(s->slots[i].v);
  }
}

/* One evaluation: leaves from the store, then the updates written back. */
typedef struct {
  const IrGraph *g;   /* evaluated graph */
  double **vals;      /* per node */
  Arena *scratch;     /* the evaluator's buffers */
} Run;

static Run run(const IrGraph *g, Store *s) {
  Run r = {g, calloc((size_t)g->nodes.len, sizeof(double *)), arena_new()};
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.items[i];
    if (n->op == OP_INPUT || n->op == OP_PARAM || n->op == OP_STATE) r.vals[i] = slot(s, n->name, n);
  }
  ir_eval(g, r.vals, r.scratch);
  double **next = calloc((size_t)g->updates.len + 1, sizeof(double *));
  for (int i = 0; i < g->updates.len; i++) {   /* read all new values before writing any */
    const IrUpdate *u = g->updates.items[i];
    int64_t n = shape_numel(u->leaf->shape);
    next[i] = malloc(sizeof(double) * (size_t)n);
    memcpy(next[i], r.vals[u->value->id], sizeof(double) * (size_t)n);
  }
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    memcpy(slot(s, u->leaf->name, u->leaf), next[i], sizeof(double) * (size_t)shape_numel(u->leaf->shape));
    free(next[i]);
  }
  free(next);
  return r;
}

static const double *out(const Run *r, const char *name) {
  IrNode *n = ir_find_output(r->g, name);
  ck_assert_msg(n != NULL, "no output %s", name);
  return r->vals[n->id];
}

static void run_free(Run *r) {
  free(r->vals);
  arena_free(r->scratch);
}

/* Forward loss of `text` on one batch. */
static double eval_loss(const char *text, int batch, bool training, Store *s) {
  Arena *a = arena_new();
  Model *m = compile(a, text);
  IrGraph *g = lower_forward(m, a, batch, training);
  Run r = run(g, s);
  double loss = out(&r, "loss")[0];
  run_free(&r);
  arena_free(a);
  return loss;
}

/* ---- shapes and counts ---- */

START_TEST(test_fashion_shapes) {
  Arena *a = arena_new();
  Model *m = compile_file(a, "examples/fashion_mlp.nn");
  ck_assert_int_eq(model_param_count(m), 235146);
  IrGraph *f = lower_forward(m, a, 64, false);
  ck_assert_int_eq(f->batch, 64);
  IrNode *o = ir_find_output(f, "output"), *loss = ir_find_output(f, "loss");
  ck_assert_int_eq(o->shape.ndim, 2);
  ck_assert_int_eq(o->shape.dim[0], 64);
  ck_assert_int_eq(o->shape.dim[1], 10);
  ck_assert_int_eq(loss->shape.ndim, 0);
  IrNode *y = ir_find_leaf(f, OP_INPUT, "y");
  ck_assert_int_eq(y->shape.dim[1], 10);
  ck_assert_int_eq(f->updates.len, 0);
  IrGraph *t = lower_train_step(m, a, 64);
  ck_assert_int_eq(t->updates.len, 6 * 3 + 1);   /* m, v, w per param + adam.t */
  IrNode *mw = ir_find_leaf(t, OP_STATE, "adam.m/h1.w");
  ck_assert_ptr_nonnull(mw);
  ck_assert_int_eq(mw->shape.dim[1], 256);
  ck_assert_ptr_nonnull(ir_find_leaf(t, OP_STATE, "adam.t"));
  IrGraph *gr = lower_grad(m, a, 64);
  IrNode *gw = ir_find_output(gr, "grad h1.w");
  ck_assert_ptr_nonnull(gw);
  ck_assert_int_eq(gw->shape.dim[0], 784);
  ck_assert_ptr_nonnull(ir_simplify(t));
  arena_free(a);
}
END_TEST

/* batch_norm state, the dropout step counter and their updates. */
START_TEST(test_features_graph) {
  Arena *a = arena_new();
  Model *m = compile_file(a, "examples/fashion_features.nn");
  IrGraph *t = lower_train_step(m, a, 16);
  IrNode *rm = ir_find_leaf(t, OP_STATE, "h1_2.running_mean");
  IrNode *step = ir_find_leaf(t, OP_STATE, "step");
  ck_assert_ptr_nonnull(rm);
  ck_assert_ptr_nonnull(step);
  int seen = 0;
  for (int i = 0; i < t->updates.len; i++) {
    const IrUpdate *u = t->updates.items[i];
    seen += u->leaf == rm || u->leaf == step;
  }
  ck_assert_int_eq(seen, 2);
  IrGraph *e = lower_forward(m, a, 16, false);
  ck_assert_int_eq(e->updates.len, 0);
  ck_assert_ptr_null(ir_find_leaf(e, OP_STATE, "step"));
  arena_free(a);
}
END_TEST

/* ---- the course graph: forward, gradients, one SGD step ---- */

START_TEST(test_course_graph) {
  Arena *a = arena_new();
  Model *m = compile_file(a, "examples/course_graph.nn");
  Store s = {.rng = 1};
  IrGraph *g = lower_grad(m, a, 32);
  ck_assert_int_eq(g->batch, 0);
  Run r = run(g, &s);
  ck_assert_double_eq_tol(out(&r, "loss")[0], 17, 1e-12);
  ck_assert_double_eq_tol(out(&r, "grad a")[0], 5, 1e-12);
  ck_assert_double_eq_tol(out(&r, "grad b")[0], 19, 1e-12);
  ck_assert_double_eq_tol(out(&r, "grad c")[0], -12, 1e-12);
  run_free(&r);
  r = run(lower_train_step(m, a, 32), &s);
  run_free(&r);
  ck_assert_double_eq_tol(slot(&s, "a", NULL)[0], 3 - 0.05, 1e-12);
  ck_assert_double_eq_tol(slot(&s, "b", NULL)[0], 1 - 0.19, 1e-12);
  ck_assert_double_eq_tol(slot(&s, "c", NULL)[0], -2 + 0.12, 1e-12);
  store_free(&s);
  arena_free(a);
}
END_TEST

/* ---- activations and losses ---- */

START_TEST(test_softmax_sums_to_one) {
  Arena *a = arena_new();
  Model *m = compile(a, "input x : [3]\ns = softmax(x)\nl = log_softmax(x)\nloss sum(s)\noutput s\n");
  Store s = {.rng = 1};
  double x[] = {1, 2, 3, -1000, 0, 1000};
  set(&s, "x", x, 6);
  Run r = run(lower_forward(m, a, 2, false), &s);
  ck_assert_double_eq_tol(out(&r, "loss")[0], 1, 1e-12);
  const double *p = out(&r, "output");
  double z = exp(1) + exp(2) + exp(3);
  ck_assert_double_eq_tol(p[2], exp(3) / z, 1e-12);
  ck_assert_double_eq_tol(p[5], 1, 1e-12);
  ck_assert_double_eq_tol(p[3], 0, 1e-12);
  run_free(&r);
  store_free(&s);
  arena_free(a);
}
END_TEST

START_TEST(test_cross_entropy) {
  Store s = {.rng = 1};
  double y[] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, x[] = {7, -2, 3, 1, 0, 1, 2, 3, 4, 5};
  set(&s, "y", y, 10);
  set(&s, "x", x, 10);
  /* uniform logits: log k */
  ck_assert_double_eq_tol(eval_loss("input x : [5]\ntarget y : class(5)\nloss cross_entropy(x * 0, y)\n", 2, false, &s),
                          log(5), 1e-12);
  /* logsumexp(x) - x_label, averaged over the batch */
  double l0 = log(exp(7) + exp(-2) + exp(3) + exp(1) + exp(0)) + 2;
  double l1 = log(exp(1) + exp(2) + exp(3) + exp(4) + exp(5)) - 5;
  ck_assert_double_eq_tol(eval_loss("input x : [5]\ntarget y : class(5)\nloss cross_entropy(x, y)\n", 2, false, &s),
                          (l0 + l1) / 2, 1e-12);
  store_free(&s);
  /* soft labels (sums 1 and 2): -sum(y * log_softmax(x)) */
  Store t = {.rng = 1};
  double ys[] = {0.2, 0.3, 0.5, 1, 1, 0}, xs[] = {1, 2, 3, 0, -1, 4};
  set(&t, "y", ys, 6);
  set(&t, "x", xs, 6);
  double want = 0;
  for (int b = 0; b < 2; b++) {
    double lse = log(exp(xs[3 * b]) + exp(xs[3 * b + 1]) + exp(xs[3 * b + 2]));
    for (int j = 0; j < 3; j++) want -= ys[3 * b + j] * (xs[3 * b + j] - lse) / 2;
  }
  ck_assert_double_eq_tol(eval_loss("input x : [3]\ntarget y : [3]\nloss cross_entropy(x, y)\n", 2, false, &t), want,
                          1e-12);
  store_free(&t);
}
END_TEST

START_TEST(test_pointwise_losses) {
  Store s = {.rng = 1};
  double x[] = {2, -800, 800, 0}, y[] = {1, 0, 0, 1};
  set(&s, "x", x, 4);
  set(&s, "y", y, 4);
  double bce = (log(1 + exp(-2)) + 0 + 800 + log(2)) / 4;   /* batch 2 of 2 features: mean of all four */
  ck_assert_double_eq_tol(eval_loss("input x : [2]\ntarget y : [2]\nloss binary_cross_entropy(x, y)\n", 2, false, &s),
                          bce, 1e-9);
  store_free(&s);
  Store t = {.rng = 1};
  double p[] = {1, 2, 3}, q[] = {1, 0, 0};
  set(&t, "p", p, 3);
  set(&t, "y", q, 3);
  ck_assert_double_eq_tol(eval_loss("input p : [3]\ntarget y : [3]\nloss mse(p, y) + mae(p, y)\n", 1, false, &t),
                          13.0 / 3 + 5.0 / 3, 1e-12);
  store_free(&t);
  Store u = {.rng = 1};
  double p1[] = {3, 1}, y1[] = {1, 1};
  set(&u, "p", p1, 2);
  set(&u, "y", y1, 2);
  ck_assert_double_eq_tol(eval_loss("input p : [1]\ntarget y : []\nloss mse(p, y)\n", 2, false, &u), 2, 1e-12);
  store_free(&u);
}
END_TEST

START_TEST(test_activations) {
  Arena *a = arena_new();
  Model *m = compile(a, "param x : [5] = [0, 2, -2, 1000, -1000]\n"
                        "s = sigmoid(x)\nr = relu(x)\nl = leaky_relu(x, 0.1)\nk = leaky_relu(x, alpha = 2)\n"
                        "e = elu(x, 0.5)\nloss sum(s) + sum(r) + sum(l) + sum(k) + sum(e)\n");
  Store st = {.rng = 1};
  Run r = run(lower_grad(m, a, 1), &st);
  const double xs[] = {0, 2, -2, 1000, -1000};
  double want = 0, dwant[5];
  for (int i = 0; i < 5; i++) {
    double x = xs[i], sg = 1 / (1 + exp(-x));
    want += sg + (x > 0 ? x : 0) + (x > 0 ? x : 0.1 * x) + (x > 0 ? x : 2 * x) + (x >= 0 ? x : 0.5 * (exp(x) - 1));
    dwant[i] = sg * (1 - sg) + (x > 0) + (x > 0 ? 1 : 0.1) + (x >= 0 ? 1 : 2) + (x >= 0 ? 1 : 0.5 * exp(x));
  }
  ck_assert_double_eq_tol(out(&r, "loss")[0], want, 1e-9);
  const double *g = out(&r, "grad x");
  for (int i = 0; i < 5; i++) ck_assert_double_eq_tol(g[i], dwant[i], 1e-9);
  run_free(&r);
  store_free(&st);
  arena_free(a);
}
END_TEST

/* softplus, gelu (both forms), silu/swish and selu against their formulas,
 * values and derivatives, in both tails and at 0. */
START_TEST(test_smooth_activations) {
  Arena *a = arena_new();
  Model *m = compile(a, "param x : [7] = [0, 1, -1, 3, -3, 30, -30]\n"
                        "s = softplus(x) + softplus(x, beta = 2)\ng = gelu(x) + gelu(x, approximate = \"tanh\")\n"
                        "w = silu(x) + swish(x) + selu(x)\nloss sum(s) + sum(g) + sum(w)\n");
  Store st = {.rng = 1};
  Run r = run(lower_grad(m, a, 1), &st);
  const double xs[] = {0, 1, -1, 3, -3, 30, -30}, k = sqrt(2 / M_PI), c = 0.044715;
  const double al = 1.6732632423543772848170429916717, sc = 1.0507009873554804934193349852946;
  double want = 0, dwant[7];
  for (int i = 0; i < 7; i++) {
    double x = xs[i], sg = 1 / (1 + exp(-x)), sg2 = 1 / (1 + exp(-2 * x));
    double phi = 0.5 * erfc(-x / sqrt(2)), dens = exp(-x * x / 2) / sqrt(2 * M_PI);
    double t = tanh(k * (x + c * x * x * x));
    want += log1p(exp(x)) + log1p(exp(2 * x)) / 2 + x * phi + 0.5 * x * (1 + t) + 2 * x * sg +
            sc * (x >= 0 ? x : al * expm1(x));
    dwant[i] = sg + sg2 + phi + x * dens + 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * c * x * x) +
               2 * (sg + x * sg * (1 - sg)) + sc * (x >= 0 ? 1 : al * exp(x));
  }
  ck_assert_double_eq_tol(out(&r, "loss")[0], want, 1e-9);
  const double *g = out(&r, "grad x");
  for (int i = 0; i < 7; i++) ck_assert_msg(fabs(g[i] - dwant[i]) < 1e-9, "d/dx at %g: %.12g, want %.12g", xs[i], g[i], dwant[i]);
  run_free(&r);
  store_free(&st);
  arena_free(a);
}
END_TEST

/* ---- dropout and the normalizations ---- */

START_TEST(test_dropout) {
  Arena *a = arena_new();
  Model *m = compile(a, "input x : [500]\nh = dropout(x, 0.25)\nloss mean(h)\noutput h\n");
  Store s = {.rng = 1};
  double x[1000];
  for (int i = 0; i < 1000; i++) x[i] = 1 + i % 7;
  set(&s, "x", x, 1000);
  Run r = run(lower_forward(m, a, 2, false), &s);
  ck_assert_int_eq(memcmp(out(&r, "output"), x, sizeof x), 0);
  run_free(&r);
  IrGraph *t = lower_forward(m, a, 2, true);
  ck_assert_ptr_nonnull(ir_find_leaf(t, OP_STATE, "step"));
  r = run(t, &s);
  const double *h = out(&r, "output");
  int kept = 0;
  for (int i = 0; i < 1000; i++) {
    if (h[i] != 0) ck_assert_double_eq_tol(h[i], x[i] / 0.75, 1e-12);
    kept += h[i] != 0;
  }
  ck_assert_int_gt(kept, 700);
  ck_assert_int_lt(kept, 800);
  double first[1000];
  memcpy(first, h, sizeof first);
  run_free(&r);
  double step = 1;
  set(&s, "step", &step, 1);
  r = run(t, &s);
  ck_assert_int_ne(memcmp(out(&r, "output"), first, sizeof first), 0);   /* a new mask each step */
  run_free(&r);
  store_free(&s);
  arena_free(a);
}
END_TEST

START_TEST(test_batch_norm) {
  Arena *a = arena_new();
  Model *m = compile(a, "input x : [2]\nh = batch_norm(x, momentum = 0.1)\nloss mean(h)\noutput h\n");
  Store s = {.rng = 1};
  double x[] = {1, 10, 3, 20, 5, 30, 7, 40}, rm[] = {1, 2}, rv[] = {4, 9};
  set(&s, "x", x, 8);
  set(&s, "h.running_mean", rm, 2);
  set(&s, "h.running_var", rv, 2);
  Run r = run(lower_forward(m, a, 4, false), &s);   /* evaluation: running statistics */
  const double *h = out(&r, "output");
  for (int i = 0; i < 8; i++) ck_assert_double_eq_tol(h[i], (x[i] - rm[i % 2]) / sqrt(rv[i % 2] + 1e-5), 1e-12);
  run_free(&r);
  r = run(lower_forward(m, a, 4, true), &s);   /* training: batch statistics */
  h = out(&r, "output");
  double mean[2] = {4, 25}, var[2] = {5, 125};   /* biased variances of {1,3,5,7} and {10,...,40} */
  for (int i = 0; i < 8; i++) ck_assert_double_eq_tol(h[i], (x[i] - mean[i % 2]) / sqrt(var[i % 2] + 1e-5), 1e-12);
  run_free(&r);
  const double *nm = slot(&s, "h.running_mean", NULL), *nv = slot(&s, "h.running_var", NULL);
  for (int j = 0; j < 2; j++) {
    ck_assert_double_eq_tol(nm[j], 0.9 * rm[j] + 0.1 * mean[j], 1e-12);
    ck_assert_double_eq_tol(nv[j], 0.9 * rv[j] + 0.1 * var[j] * 4 / 3, 1e-12);
  }
  store_free(&s);
  arena_free(a);
}
END_TEST

START_TEST(test_layer_norm) {
  Arena *a = arena_new();
  Model *m = compile(a, "input x : [4]\nh = layer_norm(x, eps = 1e-12)\nloss mean(h)\noutput h\n");
  Store s = {.rng = 1};
  double x[] = {1, 2, 3, 4, -5, 0, 5, 10};
  set(&s, "x", x, 8);
  Run r = run(lower_forward(m, a, 2, true), &s);
  const double *h = out(&r, "output");
  for (int b = 0; b < 2; b++) {
    double mu = 0, sq = 0;
    for (int j = 0; j < 4; j++) mu += h[4 * b + j] / 4;
    for (int j = 0; j < 4; j++) sq += (h[4 * b + j] - mu) * (h[4 * b + j] - mu) / 4;
    ck_assert_double_eq_tol(mu, 0, 1e-12);
    ck_assert_double_eq_tol(sq, 1, 1e-9);
  }
  run_free(&r);
  store_free(&s);
  arena_free(a);
}
END_TEST

/* ---- matrix products, maxout, reductions, regularizers ---- */

/* The "output" of `text` evaluated on one batch, compared with want[0..n). */
static void check_output(const char *text, int batch, Store *s, const double *want, int n) {
  Arena *a = arena_new();
  Model *m = compile(a, text);
  Run r = run(lower_forward(m, a, batch, false), s);
  IrNode *o = ir_find_output(r.g, "output");
  ck_assert_int_eq(shape_numel(o->shape), n);
  for (int i = 0; i < n; i++) ck_assert_msg(fabs(r.vals[o->id][i] - want[i]) < 1e-9, "%s\n[%d] = %g, want %g", text, i,
                                            r.vals[o->id][i], want[i]);
  run_free(&r);
  arena_free(a);
}

#define DECLS                                                                                  \
  "input x : [3]\ninput X : [2, 3]\nparam W : [3, 2] = [[1, 2], [3, 4], [5, 6]]\n"             \
  "param V : [2, 3] = [[1, 0, 1], [0, 1, 0]]\nparam A : [2, 2] = [[1, 1], [0, 2]]\nloss sum(x) + sum(X)\n"

START_TEST(test_matmul_forms) {
  Store s = {.rng = 1};
  double x[] = {1, -1, 2, 0, 1, 0}, X[] = {1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0};
  set(&s, "x", x, 6);
  set(&s, "X", X, 12);
  check_output(DECLS "p = x @ W\noutput p\n", 2, &s, (double[]){8, 10, 3, 4}, 4);
  check_output(DECLS "q = V @ x\noutput q\n", 2, &s, (double[]){3, -1, 0, 1}, 4);
  check_output(DECLS "r = X @ W\noutput r\n", 2, &s, (double[]){1, 2, 8, 10, 5, 6, 1, 2}, 8);
  check_output(DECLS "t = matmul(A, X)\noutput t\n", 2, &s, (double[]){1, 1, 1, 0, 2, 2, 1, 0, 1, 2, 0, 0}, 12);
  check_output(DECLS "u = W @ A\noutput u\n", 2, &s, (double[]){1, 5, 3, 11, 5, 17}, 6);
  store_free(&s);
}
END_TEST

START_TEST(test_maxout_and_reductions) {
  Store s = {.rng = 1};
  double x[] = {1, 2}, w[] = {1, -1, 2, 0, 0, 1, -1, 3}, b[] = {0, 0, 0.5, 0};
  set(&s, "x", x, 2);
  set(&s, "h.w", w, 8);
  set(&s, "h.b", b, 4);
  /* pieces z = [1, 1, 0.5, 6]: unit 0 = max(z0, z1), unit 1 = max(z2, z3) */
  check_output("input x : [2]\nh = maxout(x, 2, k = 2)\nloss mean(h)\noutput h\n", 1, &s, (double[]){1, 6}, 2);
  store_free(&s);
  Store t = {.rng = 1};
  double v[] = {1, 2, 3, 4, 5, 6};
  set(&t, "v", v, 6);
  const char *decl = "input v : [2, 3]\nloss sum(v)\n";
  char text[200];
  snprintf(text, sizeof text, "%ss = sum(v, axis = 0)\noutput s\n", decl);
  check_output(text, 1, &t, (double[]){5, 7, 9}, 3);
  snprintf(text, sizeof text, "%ss = mean(v, axis = -1)\noutput s\n", decl);
  check_output(text, 1, &t, (double[]){2, 5}, 2);
  snprintf(text, sizeof text, "%ss = max(v)\noutput s\n", decl);
  check_output(text, 1, &t, (double[]){6}, 1);
  snprintf(text, sizeof text, "%ss = min(v)\noutput s\n", decl);
  check_output(text, 1, &t, (double[]){1}, 1);
  snprintf(text, sizeof text, "%ss = min(v, axis = 1)\noutput s\n", decl);
  check_output(text, 1, &t, (double[]){1, 4}, 2);
  snprintf(text, sizeof text, "%ss = reshape(flatten(v), [3, -1])\noutput s\n", decl);
  check_output(text, 1, &t, v, 6);
  store_free(&t);
}
END_TEST

/* concat, slice, transpose and min on known values, batched and not. */
START_TEST(test_structural_ops) {
  Store t = {.rng = 1};
  double v[] = {1, 2, 3, 4, 5, 6}, u[] = {7, 8}, w[] = {-1, 9, 0, 2, 4, -3};
  set(&t, "v", v, 6);
  set(&t, "u", u, 2);
  set(&t, "W", w, 6);
  const char *decl = "input v : [2, 3]\ninput u : [2]\nparam W : [2, 3] = [[-1, 9, 0], [2, 4, -3]]\nloss sum(v) + sum(u)\n";
  static const struct {
    const char *expr;
    double want[12];
    int n;
  } cases[] = {
      {"concat(v, W)", {1, 2, 3, 4, 5, 6, -1, 9, 0, 2, 4, -3}, 12},
      {"concat(v, W, axis = -1)", {1, 2, 3, -1, 9, 0, 4, 5, 6, 2, 4, -3}, 12},
      {"concat(u, flatten(W), u)", {7, 8, -1, 9, 0, 2, 4, -3, 7, 8}, 10},
      {"slice(v, 1, axis = 1)", {2, 3, 5, 6}, 4},
      {"slice(v, -1)", {4, 5, 6}, 3},
      {"slice(W, 0, 2, axis = -1)", {-1, 9, 2, 4}, 4},
      {"transpose(v)", {1, 4, 2, 5, 3, 6}, 6},
      {"transpose(W, [1, 0])", {-1, 2, 9, 4, 0, -3}, 6},
      {"min(W)", {-3}, 1},
      {"min(v, axis = 0)", {1, 2, 3}, 3},
      {"min(W, axis = -1)", {-1, -3}, 2},
  };
  for (size_t i = 0; i < COUNT_OF(cases); i++) {
    char text[300];
    snprintf(text, sizeof text, "%so = %s\noutput o\n", decl, cases[i].expr);
    check_output(text, 1, &t, cases[i].want, cases[i].n);
  }
  store_free(&t);
}
END_TEST

/* l2 = lambda * sum W^2 (no 1/2), l1 = lambda * sum |W|, only weight matrices
 * (rank >= 2, not normalization scales). */
START_TEST(test_regularizers) {
  Store s = {.rng = 1};
  ck_assert_double_eq_tol(eval_loss("param W : [2, 2] = [[1, -2], [3, 4]]\nparam b : [2] = [5, 5]\n"
                                    "loss l2(0.1) + 10*l1(0.1) + 0*sum(b)\n",
                                    1, false, &s),
                          3 + 10, 1e-12);
  store_free(&s);
  /* a layer norm of a matrix has matrix gamma and beta: still not penalized */
  Store t = {.rng = 1};
  double v[] = {1, 2, 3, 4, 5, 6};
  set(&t, "v", v, 6);
  ck_assert_double_eq_tol(eval_loss("input v : [2, 3]\nparam W : [2, 2] = [[1, -2], [3, 4]]\n"
                                    "n = layer_norm(v)\nloss 0*sum(n) + l2(0.1) + 10*l1(0.1)\n",
                                    1, false, &t),
                          3 + 10, 1e-12);
  store_free(&t);
}
END_TEST

/* ---- optimizers: the IR train step against the formulas, three steps ---- */

static const struct {
  const char *decl;   /* optimizer statement */
  int kind;           /* OptimKind */
  bool nesterov;      /* momentum variant */
  double wd;          /* weight decay (coupled, or adamw's decoupled) */
} optimizers[] = {
    {"optimizer sgd(lr = 0.1)", OPT_SGD, false, 0},
    {"optimizer momentum(lr = 0.1, gamma = 0.9)", OPT_MOMENTUM, false, 0},
    {"optimizer momentum(lr = 0.1, gamma = 0.9, nesterov = true)", OPT_MOMENTUM, true, 0},
    {"optimizer adagrad(lr = 0.1, eps = 1e-8)", OPT_ADAGRAD, false, 0},
    {"optimizer rmsprop(lr = 0.1, beta = 0.9, eps = 1e-8)", OPT_RMSPROP, false, 0},
    {"optimizer adam(lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)", OPT_ADAM, false, 0},
    {"optimizer sgd(lr = 0.1, weight_decay = 0.05)", OPT_SGD, false, 0.05},
    {"optimizer adam(lr = 0.1, weight_decay = 0.05)", OPT_ADAM, false, 0.05},
    {"optimizer adamw(lr = 0.1, weight_decay = 0.05)", OPT_ADAMW, false, 0.05},
};

START_TEST(test_optimizer_steps) {
  char text[256];
  snprintf(text, sizeof text, "param w = 1\nloss (w - 3)^2\n%s\n", optimizers[_i].decl);
  Arena *a = arena_new();
  Model *m = compile(a, text);
  IrGraph *g = lower_train_step(m, a, 1);
  Store s = {.rng = 1};
  double w = 1, v = 0, G = 0, mm = 0, vv = 0, lr = 0.1, eps = 1e-8, wd = optimizers[_i].wd;
  for (int t = 1; t <= 3; t++) {
    double loss_grad = 2 * (w - 3), gr = optimizers[_i].kind == OPT_ADAMW ? loss_grad : loss_grad + wd * w;
    switch (optimizers[_i].kind) {
    case OPT_SGD: w -= lr * gr; break;
    case OPT_MOMENTUM:
      v = 0.9 * v - lr * gr;
      w += optimizers[_i].nesterov ? 0.9 * v - lr * gr : v;
      break;
    case OPT_ADAGRAD:
      G += gr * gr;
      w -= lr * gr / sqrt(G + eps);
      break;
    case OPT_RMSPROP:
      v = 0.9 * v + 0.1 * gr * gr;
      w -= lr * gr / (sqrt(v) + eps);
      break;
    case OPT_ADAM:
    case OPT_ADAMW:
      mm = 0.9 * mm + 0.1 * gr;
      vv = 0.999 * vv + 0.001 * gr * gr;
      if (optimizers[_i].kind == OPT_ADAMW) w *= 1 - lr * wd;
      w -= lr * (mm / (1 - pow(0.9, t))) / (sqrt(vv / (1 - pow(0.999, t))) + eps);
      break;
    }
    Run r = run(g, &s);
    ck_assert_double_eq_tol(out(&r, "loss")[0], loss_grad * loss_grad / 4, 1e-9);
    run_free(&r);
    ck_assert_msg(fabs(slot(&s, "w", NULL)[0] - w) < 1e-12, "%s step %d: w = %.15g, want %.15g", optimizers[_i].decl,
                  t, slot(&s, "w", NULL)[0], w);
  }
  store_free(&s);
  arena_free(a);
}
END_TEST

/* Known numbers, worked by hand: sgd 1 -> 1.4 -> 1.72; momentum 1 -> 1.4 -> 2.08. */
START_TEST(test_optimizer_numbers) {
  const char *decl[] = {"optimizer sgd(lr = 0.1)", "optimizer momentum(lr = 0.1)"};
  const double want[2][2] = {{1.4, 1.72}, {1.4, 2.08}};
  for (int k = 0; k < 2; k++) {
    char text[128];
    snprintf(text, sizeof text, "param w = 1\nloss (w - 3)^2\n%s\n", decl[k]);
    Arena *a = arena_new();
    IrGraph *g = lower_train_step(compile(a, text), a, 1);
    Store s = {.rng = 1};
    for (int t = 0; t < 2; t++) {
      Run r = run(g, &s);
      run_free(&r);
      ck_assert_double_eq_tol(slot(&s, "w", NULL)[0], want[k][t], 1e-12);
    }
    store_free(&s);
    arena_free(a);
  }
}
END_TEST

/* One float step of the compiled train step for a model without data: every
 * leaf bound to a buffer started from its initializer. */
typedef struct {
  JitGraph *j;        /* the step */
  float *buf[16];     /* per leaf */
} Step;

static Step compile_step(Arena *a, const char *text) {
  IrGraph *g = ir_simplify(lower_train_step(compile(a, text), a, 0));
  char err[512];
  Step st = {jit_compile(g, NULL, err, sizeof err), {0}};
  ck_assert_msg(st.j != NULL, "%s", err);
  ck_assert_int_le(jit_nleaves(st.j), 16);
  for (int i = 0; i < jit_nleaves(st.j); i++) {
    const IrNode *leaf = jit_leaf(st.j, i);
    st.buf[i] = aligned_alloc(64, 64);
    init_fill(&leaf->init, leaf->shape, st.buf[i], NULL);
    jit_bind(st.j, i, st.buf[i]);
  }
  return st;
}

static float *leaf_buf(Step *st, const char *name) {
  for (int i = 0; i < jit_nleaves(st->j); i++)
    if (strcmp(jit_leaf(st->j, i)->name, name) == 0) return st->buf[i];
  ck_abort_msg("no leaf %s", name);
  return NULL;
}

static void step_free(Step *st) {
  for (int i = 0; i < jit_nleaves(st->j); i++) free(st->buf[i]);
  jit_free(st->j);
}

/* Adam's bias corrections are exact to float rounding: with a constant
 * gradient every step moves the weight by lr * g / (|g| + eps), so after t
 * steps of loss 3a from a = 0, a = -0.1 t to a few ulp, for beta2 = 0.999
 * and 0.9999 alike (a float 1 - beta2^t was 6.6e-6 short and 1e-4 long).
 * The learning rate is a leaf: writing it changes the next step, no
 * recompiling. */
START_TEST(test_adam_exact_steps) {
  const char *beta2[] = {"0.999", "0.9999"};
  for (int k = 0; k < 2; k++) {
    char text[128];
    snprintf(text, sizeof text, "param a = 0\nloss 3 * a\noptimizer adam(lr = 0.1, beta2 = %s)\n", beta2[k]);
    Arena *ar = arena_new();
    Step st = compile_step(ar, text);
    float *a = leaf_buf(&st, "a");
    for (int t = 1; t <= 20; t++) {
      jit_run(st.j);
      double want = -0.1 * t, tol = 4 * t * FLT_EPSILON * 0.1;
      ck_assert_msg(fabs(a[0] - want) <= tol, "beta2 %s, step %d: a = %.9g, want %.9g", beta2[k], t, a[0], want);
    }
    *leaf_buf(&st, "adam.lr") = 0.5f;
    float before = a[0];
    jit_run(st.j);
    ck_assert_msg(fabs(a[0] - (before - 0.5f)) <= 4 * FLT_EPSILON * 2, "after lr 0.5: %.9g -> %.9g", before, a[0]);
    step_free(&st);
    arena_free(ar);
  }
}
END_TEST

START_TEST(test_clipping) {
  Arena *a = arena_new();
  /* gradient -4 clamped to -0.5 */
  const char *clamp = "param w = 1\nloss (w - 3)^2\noptimizer sgd(lr = 1, clip_value = 0.5)\n";
  IrGraph *g = lower_train_step(compile(a, clamp), a, 1);
  Store s = {.rng = 1};
  Run r = run(g, &s);
  run_free(&r);
  ck_assert_double_eq_tol(slot(&s, "w", NULL)[0], 1.5, 1e-12);
  store_free(&s);
  /* gradients (-6, -8), global norm 10, clipped to norm 5: (-3, -4) */
  g = lower_train_step(compile(a, "param p = 0\nparam q : [1] = [0]\nloss (p - 3)^2 + sum((q - 4)^2)\n"
                                  "optimizer sgd(lr = 1, clip_norm = 5)\n"),
                       a, 1);
  Store t = {.rng = 1};
  r = run(g, &t);
  run_free(&r);
  ck_assert_double_eq_tol(slot(&t, "p", NULL)[0], 3, 1e-12);
  ck_assert_double_eq_tol(slot(&t, "q", NULL)[0], 4, 1e-12);
  store_free(&t);
  /* a norm below the threshold leaves the gradient alone */
  g = lower_train_step(compile(a, "param p = 0\nloss (p - 3)^2\noptimizer sgd(lr = 0.1, clip_norm = 100)\n"), a, 1);
  Store u = {.rng = 1};
  r = run(g, &u);
  run_free(&r);
  ck_assert_double_eq_tol(slot(&u, "p", NULL)[0], 0.6, 1e-12);
  store_free(&u);
  arena_free(a);
}
END_TEST

/* examples/xor.nn trains to a small loss (the evaluator stands in for the JIT). */
START_TEST(test_xor_trains) {
  Arena *a = arena_new();
  Model *m = compile_file(a, "examples/xor.nn");
  IrGraph *g = lower_train_step(m, a, 4);
  Store s = {.rng = 42};
  double x[] = {0, 0, 0, 1, 1, 0, 1, 1}, y[] = {0, 1, 1, 0};
  set(&s, "x", x, 8);
  set(&s, "y", y, 4);
  double first = 0, loss = 0;
  for (int step = 0; step < m->train.epochs; step++) {
    Run r = run(g, &s);
    loss = out(&r, "loss")[0];
    if (step == 0) first = loss;
    run_free(&r);
  }
  ck_assert_msg(loss < 0.01, "xor loss %g after %d steps (first %g)", loss, m->train.epochs, first);
  store_free(&s);
  arena_free(a);
}
END_TEST

/* ---- gradients of lowered models against central finite differences ---- */

static const char *const grad_models[] = {
    "input x : [3]\ntarget y : class(4)\nh = elu(layer_norm(dense(x, 5)), 0.7)\nz = maxout(h, 4, k = 3)\n"
    "loss cross_entropy(z, y) + l2(0.01) + l1(0.001)\n",
    "input x : [3]\ntarget y : [2]\nh = batch_norm(dense(x, 4, bias = false))\nd = dropout(leaky_relu(h, 0.2), 0.3)\n"
    "loss mse(dense(d, 2), y) + mae(sigmoid(dense(d, 2)), y)\n",
    "input x : [2]\ntarget y : [1]\nh = tanh(dense(x, 3, init = he))\nloss binary_cross_entropy(dense(h, 1), y)\n",
    "input x : [2, 3]\ntarget y : [3]\nparam W : [3, 3] = normal(1)\nparam V : [2, 2] = uniform(-1, 1)\n"
    "m = mean(x, axis = 0) + max(V @ x, axis = 0) + sum(x) / 4\nz = m @ W\n"
    "loss cross_entropy(z, y) + sum(softmax(z) * log_softmax(z)) + mean(flatten(x) * sqrt(abs(sum(W)) + 1))\n",
    "input x : [4]\ntarget y : class(3)\nh = gelu(dense(x, 5)) + silu(dense(x, 5)) - selu(dense(x, 5))\n"
    "u = softplus(dense(h, 4), beta = 3) * gelu(dense(h, 4), approximate = \"tanh\") + swish(dense(h, 4))\n"
    "loss cross_entropy(dense(u, 3), y)\n",
    "input x : [2, 3]\ntarget y : [4]\nparam P : [3, 2] = normal(1)\nh = concat(transpose(x), P, axis = 1) * 2\n"
    "s = slice(h, 1, axis = 0) - min(h, axis = 0)\nz = concat(flatten(s), slice(min(x, axis = 0), -2, -1))\n"
    "loss mse(dense(z, 4), y) + 0.1 * sum(concat(P, P, axis = 1))\n",
};

START_TEST(test_gradients_match_finite_differences) {
  enum { B = 3 };
  Arena *a = arena_new();
  Model *m = compile(a, grad_models[_i]);
  IrGraph *gg = lower_grad(m, a, B), *fwd = lower_forward(m, a, B, true);
  Store s = {.rng = 7 + (uint64_t)_i};
  for (int i = 0; i < m->ninputs; i++) {
    int64_t n = B * shape_numel(m->inputs[i].shape);
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int64_t j = 0; j < n; j++) v[j] = 2 * uniform01(&s) - 1;
    set(&s, m->inputs[i].name, v, n);
    free(v);
  }
  const ModelValue *t = &m->targets[0];
  int64_t k = shape_numel(t->shape);
  double y[B * 8] = {0};
  for (int b = 0; b < B; b++)
    for (int j = 0; j < k; j++) y[b * k + j] = t->nclasses ? (j == (b + 1) % k) : uniform01(&s);
  set(&s, t->name, y, B * k);
  Run r = run(gg, &s);
  for (int p = 0; p < m->nparams; p++) {
    const char *name = m->params[p].name;
    const double *g = out(&r, arena_printf(a, "grad %s", name));
    double *w = slot(&s, name, NULL);
    for (int64_t j = 0; j < shape_numel(m->params[p].shape) && j < 5; j++) {
      double keep = w[j], h = 1e-6, lp, lm;
      w[j] = keep + h;
      Run rp = run(fwd, &s);
      lp = out(&rp, "loss")[0];
      run_free(&rp);
      w[j] = keep - h;
      Run rm = run(fwd, &s);
      lm = out(&rm, "loss")[0];
      run_free(&rm);
      w[j] = keep;
      double fd = (lp - lm) / (2 * h);
      ck_assert_msg(fabs(fd - g[j]) < 1e-5 * (1 + fabs(fd)), "model %d, %s[%lld]: analytic %.10g, numeric %.10g", _i,
                    name, (long long)j, g[j], fd);
    }
  }
  run_free(&r);
  store_free(&s);
  arena_free(a);
}
END_TEST

Suite *lower_suite(void) {
  Suite *s = suite_create("lower");
  TCase *tc = tcase_create("graphs");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_fashion_shapes);
  tcase_add_test(tc, test_features_graph);
  tcase_add_test(tc, test_course_graph);
  tcase_add_test(tc, test_xor_trains);
  suite_add_tcase(s, tc);
  tc = tcase_create("semantics");
  tcase_add_test(tc, test_softmax_sums_to_one);
  tcase_add_test(tc, test_cross_entropy);
  tcase_add_test(tc, test_pointwise_losses);
  tcase_add_test(tc, test_activations);
  tcase_add_test(tc, test_smooth_activations);
  tcase_add_test(tc, test_structural_ops);
  tcase_add_test(tc, test_dropout);
  tcase_add_test(tc, test_batch_norm);
  tcase_add_test(tc, test_layer_norm);
  tcase_add_test(tc, test_matmul_forms);
  tcase_add_test(tc, test_maxout_and_reductions);
  tcase_add_test(tc, test_regularizers);
  tcase_add_loop_test(tc, test_gradients_match_finite_differences, 0, (int)COUNT_OF(grad_models));
  suite_add_tcase(s, tc);
  tc = tcase_create("optimizers");
  tcase_add_loop_test(tc, test_optimizer_steps, 0, (int)COUNT_OF(optimizers));
  tcase_add_test(tc, test_optimizer_numbers);
  tcase_add_test(tc, test_adam_exact_steps);
  tcase_add_test(tc, test_clipping);
  suite_add_tcase(s, tc);
  return s;
}
