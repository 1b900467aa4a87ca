/* Every example in examples/ goes through the whole compiler: parse, check,
 * lower the train step, differentiate, simplify, JIT-compile; one step of the
 * generated code is then compared with the reference evaluator (double) on the
 * same leaf values: the loss, the prediction and every updated parameter and
 * state.  Tolerance |jit - eval| <= 1e-4 + 1e-3 |eval|: a whole train step in
 * float32 (reassociated sums, FMA) against exact double.  The simplified
 * graph is also checked against the unsimplified one in the evaluator. */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "grad.h"
#include "gradcheck.h"
#include "jit.h"
#include "lower.h"
#include "sema.h"

enum { MAX_EXAMPLES = 64 };

/* The examples, found on disk so a new one is covered without an edit. */
static int list_examples(char names[][256]) {
  DIR *d = opendir("examples");
  ck_assert_msg(d != NULL, "run from the repository root");
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < MAX_EXAMPLES;) {
    size_t len = strlen(e->d_name);
    if (len > 3 && strcmp(e->d_name + len - 3, ".nn") == 0) snprintf(names[n++], 256, "examples/%.200s", e->d_name);
  }
  closedir(d);
  return n;
}

static Model *load(const char *path, Arena *a, Source *src) {
  size_t len;
  char *text = read_file(path, &len);
  ck_assert_msg(text != NULL, "cannot read %s", path);
  *src = (Source){.name = path, .text = text, .len = len};
  Diag d;
  diag_init(&d, stderr, src);
  AstProgram *p = parse_program(src, a, &d);
  ck_assert_msg(p && diag_errors(&d) == 0, "%s does not parse", path);
  Model *m = sema_check(p, a, &d);
  ck_assert_msg(m && diag_errors(&d) == 0, "%s does not check", path);
  return m;
}

static bool close_enough(double got, double want) {
  return fabs(got - want) <= 1e-4 + 1e-3 * fabs(want);
}

/* Worst mismatch of a node's JIT values against the evaluator's; 0 = all close. */
static int count_mismatches(const float *got, const double *want, int64_t n, const char *what, const char *example) {
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (!close_enough(got[i], want[i]) && bad++ == 0)
      fprintf(stderr, "%s: %s[%lld]: jit %.9g, eval %.9g\n", example, what, (long long)i, got[i], want[i]);
  return bad;
}

/* One run of graph g through the JIT against the evaluator: every output
 * and every updated leaf. */
static void check_graph(const char *path, const Model *m, IrGraph *g, Arena *a) {
  double **leaves = gradcheck_leaf_values(g, m, 11, a);

  char err[512];
  JitGraph *j = jit_compile(g, &(JitOptions){.opt_level = 3}, err, sizeof err);
  ck_assert_msg(j != NULL, "%s: %s", path, err);
  int nl = jit_nleaves(j);
  float **bufs = calloc((size_t)nl, sizeof(float *));
  for (int i = 0; i < nl; i++) {
    const IrNode *leaf = jit_leaf(j, i);
    int64_t n = shape_numel(leaf->shape);
    bufs[i] = aligned_alloc(64, (size_t)(n + 16) / 16 * 64);
    for (int64_t k = 0; k < n; k++) {
      bufs[i][k] = (float)leaves[leaf->id][k];
      leaves[leaf->id][k] = bufs[i][k];  /* both sides start from the same floats */
    }
    jit_bind(j, i, bufs[i]);
  }
  Arena *scratch = arena_new();
  double **vals = calloc((size_t)g->nodes.len, sizeof(double *));
  for (int i = 0; i < g->nodes.len; i++) vals[i] = leaves[i];
  ir_eval(g, vals, scratch);
  jit_run(j);

  int bad = 0;
  for (int i = 0; i < g->outputs.len; i++) {
    IrOutput *o = g->outputs.items[i];
    bad += count_mismatches(jit_output(j, o->name), vals[o->node->id], shape_numel(o->node->shape), o->name, path);
  }
  for (int i = 0; i < g->updates.len; i++) {
    IrUpdate *u = g->updates.items[i];
    for (int k = 0; k < nl; k++)
      if (jit_leaf(j, k) == u->leaf)
        bad += count_mismatches(bufs[k], vals[u->value->id], shape_numel(u->leaf->shape), u->leaf->name, path);
  }
  ck_assert_msg(bad == 0, "%s (%s): %d values differ between the JIT and the evaluator", path, g->name, bad);

  for (int i = 0; i < nl; i++) free(bufs[i]);
  free(bufs);
  free(vals);
  jit_free(j);
  arena_free(scratch);
}

/* The train step (loss, prediction, updated parameters and state) and the
 * gradient graph (every parameter's gradient as an output). */
static void check_example(const char *path) {
  Arena *a = arena_new();
  Source src;
  Model *m = load(path, a, &src);
  int batch = lower_has_batch(m) ? 3 : 0;
  IrGraph *step = ir_simplify(lower_train_step(m, a, batch));
  ck_assert_msg(step->updates.len > 0, "%s: the train step updates nothing", path);
  check_graph(path, m, step, a);
  check_graph(path, m, ir_simplify(lower_grad(m, a, batch)), a);
  free((char *)src.text);
  arena_free(a);
}

START_TEST(jit_matches_evaluator_on_every_example) {
  char names[MAX_EXAMPLES][256];
  int n = list_examples(names);
  ck_assert_int_ge(n, 5);
  for (int i = 0; i < n; i++) check_example(names[i]);
}
END_TEST

/* Simplification must not change what a graph computes: the loss and every
 * update of each example's train step, unsimplified vs simplified. */
static void check_simplify_preserves(const char *path) {
  Arena *a = arena_new();
  Source src;
  Model *m = load(path, a, &src);
  int batch = lower_has_batch(m) ? 2 : 0;
  IrGraph *raw = lower_train_step(m, a, batch);
  IrGraph *simple = ir_simplify(raw);
  double **lr = gradcheck_leaf_values(raw, m, 5, a);
  double **ls = gradcheck_leaf_values(simple, m, 5, a);
  /* same values for same-named leaves */
  for (int i = 0; i < simple->nodes.len; i++) {
    IrNode *n = simple->nodes.items[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE) continue;
    IrNode *r = ir_find_leaf(raw, n->op, n->name);
    ck_assert_msg(r != NULL, "%s: leaf %s appears from nowhere", path, n->name);
    ls[i] = lr[r->id];
  }
  Arena *scratch = arena_new();
  ck_assert_int_eq(raw->outputs.len, simple->outputs.len);
  ck_assert_int_eq(raw->updates.len, simple->updates.len);
  double **vr = calloc((size_t)raw->nodes.len, sizeof(double *));
  double **vs = calloc((size_t)simple->nodes.len, sizeof(double *));
  for (int i = 0; i < raw->nodes.len; i++) vr[i] = lr[i];
  for (int i = 0; i < simple->nodes.len; i++) vs[i] = ls[i];
  ir_eval(raw, vr, scratch);
  ir_eval(simple, vs, scratch);
  for (int i = 0; i < raw->updates.len; i++) {
    IrUpdate *ur = raw->updates.items[i], *us = simple->updates.items[i];
    int64_t n = shape_numel(ur->leaf->shape), differ = 0;
    for (int64_t k = 0; k < n; k++)
      differ += !(fabs(vr[ur->value->id][k] - vs[us->value->id][k]) <= 1e-12 * (1 + fabs(vr[ur->value->id][k])));
    /* one assertion per tensor: check records every passing one */
    ck_assert_msg(differ == 0, "%s: %" PRId64 " of %" PRId64 " values of the update of %s differ after simplification",
                  path, differ, n, ur->leaf->name);
  }
  free(vr);
  free(vs);
  arena_free(scratch);
  free((char *)src.text);
  arena_free(a);
}

START_TEST(simplify_preserves_every_example) {
  char names[MAX_EXAMPLES][256];
  int n = list_examples(names);
  for (int i = 0; i < n; i++) check_simplify_preserves(names[i]);
}
END_TEST

/* `nnc check`'s machinery passes on every example. */
START_TEST(gradients_match_finite_differences_on_every_example) {
  char names[MAX_EXAMPLES][256];
  int n = list_examples(names);
  for (int e = 0; e < n; e++) {
    Arena *a = arena_new();
    Source src;
    Model *m = load(names[e], a, &src);
    IrGraph *g = lower_grad(m, a, lower_has_batch(m) ? 4 : 0);
    IrNode *loss = ir_find_output(g, "loss");
    double **leaves = gradcheck_leaf_values(g, m, 3, a);
    Arena *scratch = arena_new();
    IrNode *culprit = gradcheck_localize(g, loss, leaves, NULL, 1e-5, scratch);
    ck_assert_msg(culprit == NULL, "%s: gradient of a '%s' value disagrees with finite differences", names[e],
                  culprit ? op_info[culprit->op].name : "");
    arena_free(scratch);
    free((char *)src.text);
    arena_free(a);
  }
}
END_TEST

/* Named float buffers standing in for the runtime's store: the graphs of one
 * run share a leaf's buffer by its name. */
typedef struct {
  const char *name[256];
  float *buf[256];
  int n;
} Buffers;

static float *buffer_for(Buffers *b, const IrNode *leaf) {
  for (int i = 0; i < b->n; i++)
    if (strcmp(b->name[i], leaf->name) == 0) return b->buf[i];
  ck_assert_int_lt(b->n, 256);
  size_t bytes = (size_t)(shape_numel(leaf->shape) + 16) / 16 * 64;
  b->name[b->n] = leaf->name;
  b->buf[b->n] = aligned_alloc(64, bytes);
  memset(b->buf[b->n], 0, bytes);
  return b->buf[b->n++];
}

static JitGraph *compile_bound(IrGraph *g, Buffers *b, const char *path) {
  char err[512];
  JitGraph *j = jit_compile(g, &(JitOptions){.opt_level = 3}, err, sizeof err);
  ck_assert_msg(j != NULL, "%s: %s", path, err);
  for (int i = 0; i < jit_nleaves(j); i++) jit_bind(j, i, buffer_for(b, jit_leaf(j, i)));
  return j;
}

/* Three train steps of an example, fused and split at the gradients, from
 * the same floats: every parameter, state and the loss agree bit for bit. */
static void check_split(const char *path) {
  Arena *a = arena_new();
  Source src;
  Model *m = load(path, a, &src);
  int batch = lower_has_batch(m) ? 3 : 0;
  IrGraph *fused = ir_simplify(lower_train_step(m, a, batch));
  double **start = gradcheck_leaf_values(fused, m, 17, a);
  Buffers one = {0}, two = {0};
  JitGraph *step = compile_bound(fused, &one, path);
  JitGraph *grad = compile_bound(ir_simplify(lower_grad_step(m, a, batch, 0, batch)), &two, path);
  JitGraph *update = compile_bound(ir_simplify(lower_update_step(m, a)), &two, path);
  for (int i = 0; i < fused->nodes.len; i++) {
    const IrNode *n = fused->nodes.items[i];
    if (!start[i] || (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE)) continue;
    float *x = buffer_for(&one, n), *y = buffer_for(&two, n);
    for (int64_t k = 0; k < shape_numel(n->shape); k++) x[k] = y[k] = (float)start[i][k];
  }
  for (int s = 0; s < 3; s++) {
    jit_run(step);
    jit_run(grad);
    jit_run(update);
    ck_assert_msg(memcmp(jit_output(step, "loss"), jit_output(grad, "loss"), sizeof(float)) == 0,
                  "%s: step %d: the split step's loss differs", path, s + 1);
  }
  for (int i = 0; i < one.n; i++) {
    const IrNode *leaf = NULL;
    for (int k = 0; k < jit_nleaves(step) && !leaf; k++)
      if (strcmp(jit_leaf(step, k)->name, one.name[i]) == 0) leaf = jit_leaf(step, k);
    float *y = buffer_for(&two, leaf);
    ck_assert_msg(memcmp(one.buf[i], y, sizeof(float) * (size_t)shape_numel(leaf->shape)) == 0,
                  "%s: %s differs between the fused and the split train step", path, one.name[i]);
  }
  jit_free(step);
  jit_free(grad);
  jit_free(update);
  for (int i = 0; i < one.n; i++) free(one.buf[i]);
  for (int i = 0; i < two.n; i++) free(two.buf[i]);
  free((char *)src.text);
  arena_free(a);
}

START_TEST(split_step_matches_fused_on_every_example) {
  char names[MAX_EXAMPLES][256];
  int n = list_examples(names);
  for (int i = 0; i < n; i++) check_split(names[i]);
}
END_TEST

/* A leaf's floats: a piece "NAME@FIRST" (lower_update_slice) within NAME's. */
static float *piece_for(Buffers *b, const IrNode *leaf) {
  const char *mark = strrchr(leaf->name, LOWER_PIECE_MARK[0]);
  if (!mark) return buffer_for(b, leaf);
  for (int i = 0; i < b->n; i++)
    if (strncmp(b->name[i], leaf->name, (size_t)(mark - leaf->name)) == 0 && !b->name[i][mark - leaf->name])
      return b->buf[i] + strtoll(mark + 1, NULL, 10);
  ck_abort_msg("no buffer for %s", leaf->name);
  return NULL;
}

/* Buffers for every leaf of j, each filled from `start` (indexed by node id). */
static void fill_buffers(Buffers *b, JitGraph *j, double **start) {
  for (int i = 0; i < jit_nleaves(j); i++) {
    const IrNode *n = jit_leaf(j, i);
    float *x = buffer_for(b, n);
    for (int64_t k = 0; start[n->id] && k < shape_numel(n->shape); k++) x[k] = (float)start[n->id][k];
  }
}

/* The update of an example without clip_norm (whose slices read the norm
 * from the runtime: tests/e2e/mpi_train.sh), once whole and once as two
 * slices (the first half of every parameter, then the rest), each slice on
 * its own copy of the leaves as a rank has: each slice's parameters and
 * optimizer state are the whole update's bits, and so is the rest of the
 * state (the step counter). */
static void check_slices(const char *path) {
  Arena *a = arena_new();
  Source src;
  Model *m = load(path, a, &src);
  IrGraph *whole = ir_simplify(lower_update_step(m, a));
  LowerPiece *half[2] = {NEW_ARRAY(a, LowerPiece, m->nparams + 1), NEW_ARRAY(a, LowerPiece, m->nparams + 1)};
  for (int i = 0; i < m->nparams; i++) {
    int64_t n = shape_numel(m->params[i].shape);
    half[0][i] = (LowerPiece){0, n / 2};
    half[1][i] = (LowerPiece){n / 2, n - n / 2};
  }
  double **start = gradcheck_leaf_values(whole, m, 23, a);
  Buffers one = {0}, part[2];
  memset(part, 0, sizeof part);
  JitGraph *step = compile_bound(whole, &one, path), *slice[2];
  fill_buffers(&one, step, start);
  for (int s = 0; s < 2; s++) {
    fill_buffers(&part[s], step, start);
    char err[512];
    slice[s] = jit_compile(ir_simplify(lower_update_slice(m, a, half[s])), &(JitOptions){.opt_level = 3}, err,
                           sizeof err);
    ck_assert_msg(slice[s] != NULL, "%s: %s", path, err);
    for (int i = 0; i < jit_nleaves(slice[s]); i++) jit_bind(slice[s], i, piece_for(&part[s], jit_leaf(slice[s], i)));
    jit_run(slice[s]);
  }
  jit_run(step);
  for (int i = 0; i < one.n; i++) {
    int p = optim_state_param(m, one.name[i]);
    for (int k = 0; k < m->nparams && p < 0; k++)
      if (strcmp(one.name[i], m->params[k].name) == 0) p = k;
    for (int s = 0; s < 2; s++) {
      LowerPiece pc = p >= 0 ? half[s][p] : (LowerPiece){0, 1};
      ck_assert_msg(memcmp(one.buf[i] + pc.first, part[s].buf[i] + pc.first, sizeof(float) * (size_t)pc.count) == 0,
                    "%s: %s differs between the whole update and slice %d", path, one.name[i], s);
    }
  }
  jit_free(step);
  for (int s = 0; s < 2; s++) {
    jit_free(slice[s]);
    for (int i = 0; i < part[s].n; i++) free(part[s].buf[i]);
  }
  for (int i = 0; i < one.n; i++) free(one.buf[i]);
  free((char *)src.text);
  arena_free(a);
}

START_TEST(update_slices_match_the_whole_update) {
  char names[MAX_EXAMPLES][256];
  int n = list_examples(names);
  int checked = 0;
  for (int i = 0; i < n; i++) {
    Arena *a = arena_new();
    Source src;
    Model *m = load(names[i], a, &src);
    bool fits = m->optim.clip_norm <= 0 && m->nparams > 0;
    free((char *)src.text);
    arena_free(a);
    if (fits) check_slices(names[i]), checked++;
  }
  ck_assert_int_gt(checked, 0);
}
END_TEST

/* A deliberately wrong rule (every mul's adjoint doubled) is found: the
 * checker names a mul node. */
static IrNode **broken_adjoint(IrGraph *g, IrNode *loss, int n, IrNode *const *wrt) {
  IrNode **adj = grad_build(g, loss, n, wrt);
  for (int i = 0; i < n; i++)
    if (wrt[i]->op == OP_MUL) adj[i] = ir_binary(g, OP_MUL, adj[i], ir_const(g, 2));
  return adj;
}

START_TEST(localize_names_a_wrong_rule) {
  Arena *a = arena_new();
  IrGraph *g = ir_graph_new(a, "t", 0);
  IrNode *w = ir_param(g, "w", shape_1(3), (IrInit){.kind = INIT_ZEROS});
  IrNode *e = ir_unary(g, OP_EXP, w);
  IrNode *m = ir_binary(g, OP_MUL, e, w);
  IrNode *loss = ir_reduce(g, OP_SUM, ir_unary(g, OP_TANH, m), 1);
  double **leaves = calloc((size_t)g->nodes.len, sizeof(double *));
  double wv[3] = {0.1, -0.4, 0.7};
  leaves[w->id] = wv;
  Arena *scratch = arena_new();
  ck_assert_ptr_null(gradcheck_localize(g, loss, leaves, NULL, 1e-6, scratch));
  IrNode *bad = gradcheck_localize(g, loss, leaves, broken_adjoint, 1e-6, scratch);
  ck_assert_ptr_nonnull(bad);
  ck_assert_int_eq(bad->op, OP_MUL);
  free(leaves);
  arena_free(scratch);
  arena_free(a);
}
END_TEST

/* One test case per check, so each can be run alone (CK_RUN_CASE). */
static void add_case(Suite *s, const char *name, const TTest *test) {
  TCase *tc = tcase_create(name);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test);
  suite_add_tcase(s, tc);
}

Suite *examples_suite(void) {
  Suite *s = suite_create("examples");
  add_case(s, "jit", jit_matches_evaluator_on_every_example);
  add_case(s, "simplify", simplify_preserves_every_example);
  add_case(s, "gradients", gradients_match_finite_differences_on_every_example);
  add_case(s, "localize", localize_names_a_wrong_rule);
  add_case(s, "split", split_step_matches_fused_on_every_example);
  add_case(s, "slices", update_slices_match_the_whole_update);
  return s;
}
