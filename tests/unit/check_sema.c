/* check_sema: sema's diagnostics (exact text, one test per error class), the
 * checked Model of every example file, naming, defaults and the summary. */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "builtins.h"
#include "sema.h"

/* One compilation of a source string: the Model (NULL on errors) and all
 * diagnostics text. */
typedef struct {
  Arena *a;       /* owns AST and Model */
  Model *m;       /* NULL when sema reported errors */
  char *diag;     /* everything printed to the Diag (heap) */
  int nerrors;    /* errors reported (parse + sema) */
} Checked;

static Checked check_text(const char *name, const char *text) {
  Checked c = {.a = arena_new()};
  size_t len = 0;
  FILE *out = open_memstream(&c.diag, &len);
  Source src = {name, text, strlen(text)};
  Diag d;
  diag_init(&d, out, &src);
  AstProgram *p = parse_program(&src, c.a, &d);
  ck_assert_msg(p && diag_errors(&d) == 0, "parse failed for %s", name);
  c.m = sema_check(p, c.a, &d);
  c.nerrors = diag_errors(&d);
  fclose(out);
  return c;
}

static void checked_free(Checked *c) {
  arena_free(c->a);
  free(c->diag);
}

static char *first_line(const char *s) {
  size_t n = strcspn(s, "\n");
  return strndup(s, n);
}

/* ---- one test per error class: source and the exact first diagnostic ---- */
static const struct {
  const char *src;    /* program text */
  const char *want;   /* first line of the diagnostics */
} errors[] = {
    {"input x : [4]\nh1 = relu(x)\nloss mean(h2)\n", "t.nn:3:11: error: undefined name 'h2'; did you mean 'h1'?"},
    {"input x : [4]\nh = relu(g)\ng = x\nloss mean(h)\n", "t.nn:2:10: error: 'g' is used before its definition"},
    {"input x : [4]\nh = sigmod(x)\nloss mean(h)\n",
     "t.nn:2:5: error: unknown function 'sigmod'; did you mean 'sigmoid'?"},
    {"input x : [4]\nh = relu(x, x)\nloss mean(h)\n",
     "t.nn:2:13: error: relu takes at most 1 positional argument (x)"},
    {"input x : [4]\nh = dense(x, 3, unit = 3)\nloss mean(h)\n",
     "t.nn:2:17: error: dense has no parameter 'unit'; did you mean 'units'?"},
    {"input x : [4]\nh = dense(x)\nloss mean(h)\n", "t.nn:2:5: error: dense: missing required argument 'units'"},
    {"input x : [4]\nh = dense(x, 2.5)\nloss mean(h)\n", "t.nn:2:14: error: dense: units must be an integer, got 2.5"},
    {"input x : [4]\nh = dense(x, \"a\")\nloss mean(h)\n", "t.nn:2:14: error: dense: units must be a constant number"},
    {"input x : [4]\nh = dense(x, 0)\nloss mean(h)\n", "t.nn:2:14: error: dense: units must be positive, got 0"},
    {"input x : [4]\nh = dropout(x, 1)\nloss mean(h)\n", "t.nn:2:16: error: dropout: p must be in [0, 1), got 1"},
    {"input x : [4]\nh = dense(x, 3, bias = 1)\nloss mean(h)\n", "t.nn:2:24: error: dense: bias must be true or false"},
    {"input img : [28, 28]\nh = dense(img, 10)\nloss mean(h)\n",
     "t.nn:2:11: error: dense expects a vector input, got [28,28]; use flatten(img)"},
    {"input x : [4]\ntarget y : [1]\np = dense(x, 10)\nloss mse(p, y)\n",
     "t.nn:4:6: error: mse: prediction [10] ('p') and target [1] ('y') differ; the prediction needs the target's "
     "shape: make the last layer dense(..., 1)"},
    {"input x : [4]\ntarget y : [2, 3]\nloss mae(dense(x, 6), y)\n",
     "t.nn:3:6: error: mae: prediction [6] and target [2,3] ('y') differ; the prediction needs the target's shape: "
     "use reshape(dense(x, 6), [2,3])"},
    {"input x : [4]\ntarget y : [2, 3]\np = dense(x, 5)\nloss binary_cross_entropy(p, y)\n",
     "t.nn:4:6: error: binary_cross_entropy: prediction [5] ('p') and target [2,3] ('y') differ; the prediction "
     "needs the target's shape: make it [2,3] like the target"},
    {"input x : [4]\ntarget y : class(5)\nz = dense(x, 10)\nloss cross_entropy(z, y)\n",
     "t.nn:4:6: error: cross_entropy: logits [10] ('z') and target class(5) ('y') differ; the logits need one entry "
     "per class: make the last layer dense(..., 5)"},
    {"input x : [4]\ntarget y : [3]\nloss cross_entropy(dense(x, 2), y)\n",
     "t.nn:3:6: error: cross_entropy: logits [2] and target [3] ('y') differ; the logits need one entry per target "
     "value: make the last layer dense(..., 3)"},
    {"input x : [4]\ntarget y : [2, 5]\nloss cross_entropy(dense(x, 10), y)\n",
     "t.nn:3:6: error: cross_entropy: logits [10] and target [2,5] ('y') differ; the target must be class(k) or a "
     "vector [k] of class probabilities"},
    {"input x : [4]\nparam v : [3]\nloss mean(x + v)\n",
     "t.nn:3:13: error: '+' cannot combine shapes [4] ('x') and [3] ('v'): broadcasting aligns shapes from the right "
     "and sizes must be equal or 1, but the last axis has 4 and 3"},
    {"input x : [2, 4]\nparam v : [3, 1]\nloss mean(x * (v + 1))\n",
     "t.nn:3:13: error: '*' cannot combine shapes [2,4] ('x') and [3,1]: broadcasting aligns shapes from the right "
     "and sizes must be equal or 1, but axis -2 has 2 and 3"},
    {"param a : [2, 3]\nparam b : [3, 2]\nloss sum(maximum(a, b))\n",
     "t.nn:3:10: error: maximum cannot combine shapes [2,3] ('a') and [3,2] ('b'): broadcasting aligns shapes from "
     "the right and sizes must be equal or 1, but the last axis has 3 and 2"},
    {"input x : [4]\nparam W : [3, 2]\nloss mean(x @ W)\n",
     "t.nn:3:13: error: matmul: inner sizes differ in [4] ('x') @ [3,2] ('W'): the left side's last size (4) must "
     "equal the right side's first size (3)"},
    {"input x : [4]\nparam W : [3, 2]\nloss mean(matmul(relu(x), W))\n",
     "t.nn:3:11: error: matmul: inner sizes differ in [4] @ [3,2] ('W'): the left side's last size (4) must equal "
     "the right side's first size (3)"},
    {"input x : [4]\nloss x\n",
     "t.nn:2:6: error: the loss must be a scalar per sample, got [4]; reduce it, e.g. with mean(...)"},
    {"param a = 1\n", "t.nn: error: no loss statement; add one, e.g. `loss mse(pred, y)`"},
    {"param a = 1\nloss a\nloss a * 2\n", "t.nn:3:1: error: second loss statement; combine the terms with +"},
    {"param a = 1\nloss a\noptimizer sgd()\noptimizer adam()\n", "t.nn:4:1: error: second optimizer statement"},
    {"param a = 1\nloss a\noptimizer relu(a)\n",
     "t.nn:3:11: error: expected an optimizer: sgd, momentum, adagrad, rmsprop, adam or adamw"},
    {"param a = 1\nloss a\noptimizer adamm(lr = 0.1)\n",
     "t.nn:3:11: error: unknown optimizer 'adamm'; did you mean 'adam'?"},
    {"param a = 1\nloss a\noptimizer sgdd()\n", "t.nn:3:11: error: unknown optimizer 'sgdd'; did you mean 'sgd'?"},
    {"param a = 1\nloss a\noptimizer adam(lr = -1)\n", "t.nn:3:21: error: adam: lr must be positive, got -1"},
    {"param a = 1\nloss a\ntrain {\n  epoch = 3\n}\n",
     "t.nn:4:3: error: unknown train setting 'epoch'; did you mean 'epochs'?"},
    {"param a = 1\nloss a\ntrain {\n  batch = 0\n}\n", "t.nn:4:11: error: batch must be a positive integer, got 0"},
    {"param a = 1\nloss a\ntrain {\n  schedule = cosin(warmup = 2)\n}\n",
     "t.nn:4:14: error: unknown schedule 'cosin'; did you mean 'cosine'?"},
    {"param a = 1\nloss a\ntrain {\n  schedule = 0.5\n}\n",
     "t.nn:4:14: error: schedule must be step(...), cosine(...), exponential(...) or reduce_on_plateau(...)"},
    {"param a = 1\nloss a\ntrain {\n  schedule = step(gamma = 0.5)\n}\n",
     "t.nn:4:14: error: step: missing required argument 'every'"},
    {"param a = 1\nloss a\ntrain {\n  schedule = reduce_on_plateau(factor = 0)\n}\n",
     "t.nn:4:32: error: reduce_on_plateau: factor must be in (0, 1), got 0"},
    {"param a = 1\nloss a\ny = cosine(2)\n", "t.nn:3:5: error: 'cosine' is a learning-rate schedule; use it in the train block (schedule = ...)"},
    {"param a = 1\nloss a\ntrain {\n  shuffle = 1\n}\n", "t.nn:4:13: error: shuffle must be true or false"},
    {"param a = 1\nloss a\ntrain {\n  data = \"x.csv\"\n}\n",
     "t.nn:4:10: error: data must be a data source: idx(...) or csv(...)"},
    {"param a = 1\nloss a\ntrain {\n  data = cvs(\"x.csv\")\n}\n",
     "t.nn:4:10: error: unknown data source 'cvs'; did you mean 'csv'?"},
    {"param a = 1\nloss a\ntrain {\n  test = ixd(\"t10k\")\n}\n",
     "t.nn:4:10: error: unknown data source 'ixd'; did you mean 'idx'?"},
    {"param a = 1\nloss a\ntrain {\n  data = csv(\"x.csv\", targets = \"middle\")\n}\n",
     "t.nn:4:33: error: csv: targets must be \"last\" or \"first\", got \"middle\""},
    {"param a = 1\nloss a\ntrain {\n  data = idx(scale = 2)\n}\n",
     "t.nn:4:10: error: idx needs a path prefix or both images= and labels="},
    {"param a = 1\nloss a\ntrain {\n  patience = 2\n}\n",
     "t.nn:4:3: error: patience needs validation data: add validation = ... or validation_split = ..."},
    {"input x : [4]\nh = xavier()\nloss mean(h)\n",
     "t.nn:2:5: error: 'xavier' is an initializer; use it as a param's value or a layer's init="},
    {"input x : [4]\nh = x(2)\nloss mean(h)\n", "t.nn:2:5: error: 'x' is a value, not a function"},
    {"input x : [4]\nh = relu\nloss mean(h)\n", "t.nn:2:5: error: 'relu' is a function; call it as relu(...)"},
    {"input x : [4]\nx = relu(x)\nloss mean(x)\n", "t.nn:2:1: error: 'x' is already defined"},
    {"input x : [4]\nh = dense(x, 2, name = \"f\")\ng = dense(h, 2, name = \"f\")\nloss mean(g)\n",
     "t.nn:3:5: error: parameter 'f.w' already exists; give this layer another name="},
    {"input x : [4]\nh = dense(x, 2, name = \"\")\nloss mean(h)\n", "t.nn:2:17: error: dense: name must not be empty"},
    {"input x : [4]\nh = dense(x, 2, init = relu)\nloss mean(h)\n",
     "t.nn:2:24: error: expected an initializer (zeros, normal(std), uniform(lo, hi), xavier, kaiming or a number)"},
    {"input x : [4]\nh = dense(x, 2, init = xavierr)\nloss mean(h)\n",
     "t.nn:2:24: error: unknown initializer 'xavierr'; did you mean 'xavier'?"},
    {"param W : [2, 2] = kaimng\nloss sum(W)\n",
     "t.nn:1:20: error: unknown initializer 'kaimng'; did you mean 'kaiming'?"},
    {"param W : [2, 2] = normall(0.1)\nloss sum(W)\n",
     "t.nn:1:20: error: unknown initializer 'normall'; did you mean 'normal'?"},
    {"param W : [2, 2] = [1, 2, 3]\nloss sum(W)\n",
     "t.nn:1:20: error: param W: the values have shape [3], the declared shape is [2,2]"},
    {"input x : [4]\nh = sum(x, axis = 1)\nloss h\n", "t.nn:2:12: error: sum: axis 1 is out of range for shape [4]"},
    {"input x : [4]\nh = reshape(x, [3, 2])\nloss sum(h)\n",
     "t.nn:2:16: error: reshape: cannot reshape [4] into [3,2]"},
    {"target y : class(1)\nloss sum(y)\n",
     "t.nn:1:12: error: class(k) needs one integer k >= 2, the number of classes"},
};

START_TEST(test_error_messages) {
  Checked c = check_text("t.nn", errors[_i].src);
  ck_assert_ptr_null(c.m);
  ck_assert_int_ge(c.nerrors, 1);
  char *got = first_line(c.diag);
  ck_assert_str_eq(got, errors[_i].want);
  free(got);
  checked_free(&c);
}
END_TEST

/* Independent mistakes are all reported, not only the first. */
START_TEST(test_several_errors) {
  Checked c = check_text("t.nn", "input x : [4]\na = rleu(x)\nb = dense(x, 0)\nloss mean(q)\n");
  ck_assert_ptr_null(c.m);
  ck_assert_int_eq(c.nerrors, 3);
  ck_assert_ptr_nonnull(strstr(c.diag, "t.nn:2:5: error: unknown function 'rleu'"));
  ck_assert_ptr_nonnull(strstr(c.diag, "t.nn:3:14: error: dense: units must be positive, got 0"));
  ck_assert_ptr_nonnull(strstr(c.diag, "t.nn:4:11: error: undefined name 'q'"));
  checked_free(&c);
}
END_TEST

/* A declaration with an error poisons its name: uses of it give no second,
 * follow-on message (here cross_entropy would see a target of shape []). */
START_TEST(test_failed_declaration_no_cascade) {
  static const char *const srcs[] = {
      "input x : [4]\ntarget y : class(1)\nloss cross_entropy(dense(x, 3), y)\n",
      "input x : [4, 0]\ntarget y : [3]\nloss mse(dense(flatten(x), 2), y)\n",
      "input x : [4]\nparam W : [3, 2] = xavierr\nloss mean(x @ W)\n",
      "input x : [4]\nparam W : [5, 2] = [1, 2]\nloss mean(x @ W)\n",
  };
  for (size_t i = 0; i < COUNT_OF(srcs); i++) {
    Checked c = check_text("t.nn", srcs[i]);
    ck_assert_ptr_null(c.m);
    ck_assert_msg(c.nerrors == 1, "%s gave %d errors:\n%s", srcs[i], c.nerrors, c.diag);
    checked_free(&c);
  }
}
END_TEST

/* A use before the definition also points at the definition. */
START_TEST(test_note_on_definition) {
  Checked c = check_text("t.nn", "input x : [4]\nh = relu(g)\ng = x\nloss mean(h)\n");
  ck_assert_ptr_nonnull(strstr(c.diag, "t.nn:3:1: note: 'g' is defined here"));
  checked_free(&c);
}
END_TEST

/* ---- every example checks ---- */
static const char *const examples[] = {
    "examples/course_graph.nn", "examples/course_chain.nn", "examples/xor.nn",
    "examples/regression.nn",   "examples/fashion_mlp.nn",  "examples/fashion_features.nn",
};

START_TEST(test_examples_check) {
  size_t len;
  char *text = read_file(examples[_i], &len);
  ck_assert_msg(text != NULL, "cannot read %s", examples[_i]);
  Checked c = check_text(examples[_i], text);
  ck_assert_msg(c.m != NULL, "%s:\n%s", examples[_i], c.diag);
  ck_assert_str_eq(c.diag, "");
  ck_assert_ptr_nonnull(c.m->loss);
  checked_free(&c);
  free(text);
}
END_TEST

static Checked check_file(const char *path) {
  size_t len;
  char *text = read_file(path, &len);
  ck_assert_ptr_nonnull(text);
  Checked c = check_text(path, text);
  free(text);
  ck_assert_msg(c.m != NULL, "%s", c.diag);
  return c;
}

START_TEST(test_fashion_mlp_model) {
  Checked c = check_file("examples/fashion_mlp.nn");
  const Model *m = c.m;
  ck_assert_str_eq(m->name, "fashion_mlp");
  ck_assert_int_eq(model_param_count(m), 235146);
  ck_assert_int_eq(m->nparams, 6);
  ck_assert_str_eq(m->params[0].name, "h1.w");
  ck_assert_int_eq(m->params[0].shape.dim[0], 784);
  ck_assert_int_eq(m->params[0].shape.dim[1], 256);
  ck_assert_int_eq(m->params[0].init.kind, INIT_XAVIER);
  ck_assert_int_eq(m->params[0].init.fan_in, 784);
  ck_assert_int_eq(m->params[0].init.fan_out, 256);
  ck_assert_str_eq(m->params[1].name, "h1.b");
  ck_assert_int_eq(m->params[1].init.kind, INIT_ZEROS);
  ck_assert_str_eq(m->params[5].name, "logits.b");
  ck_assert_int_eq(m->ntargets, 1);
  ck_assert_int_eq(m->targets[0].nclasses, 10);
  ck_assert_str_eq(m->output_name, "logits");
  ck_assert_int_eq(m->optim.kind, OPT_ADAM);
  ck_assert_double_eq(m->optim.lr, 0.001);
  ck_assert_double_eq(m->optim.beta2, 0.999);
  ck_assert(m->has_train);
  ck_assert_int_eq(m->train.epochs, 10);
  ck_assert_int_eq(m->train.batch, 64);
  ck_assert_int_eq(m->train.seed, 42);
  ck_assert(m->train.shuffle);
  ck_assert_int_eq(m->train.data.format, DATA_IDX);
  ck_assert_str_eq(m->train.data.path, "/usr/share/datasets/fashion-mnist/train");
  ck_assert_double_eq_tol(m->train.data.scale, 1.0 / 255, 1e-15);
  ck_assert_int_eq(m->train.test.format, DATA_IDX);
  ck_assert_int_eq(m->train.validation.format, DATA_NONE);
  ck_assert_double_eq(m->train.validation_split, 0);
  checked_free(&c);
}
END_TEST

/* What `nnc summary` prints for m (heap). */
static char *summary_text(const Model *m) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  model_print_summary(f, m);
  fclose(f);
  return text;
}

START_TEST(test_summary_text) {
  Checked c = check_file("examples/xor.nn");
  char *text = summary_text(c.m);
  ck_assert_str_eq(text,
                   "model xor\n"
                   "  name             kind                   shape                params\n"
                   "  x                input                  [2]                       0\n"
                   "  y                target                 [1]                       0\n"
                   "  h                dense+tanh             [4]                      12\n"
                   "  logit            dense                  [1]                       5\n"
                   "  loss             binary_cross_entropy   []                        0\n"
                   "  total                                                            17\n");
  free(text);
  checked_free(&c);
}
END_TEST

/* A binding whose builtins change the shape gets a row per shape, its
 * parameters on the row of the layer that made them. */
START_TEST(test_summary_stages) {
  Checked c = check_text("t.nn", "input x : [1, 8, 8]\ntarget y : class(3)\n"
                                 "c = max_pool2d(relu(conv2d(x, 4, 3, padding = 1)), 2)\n"
                                 "logits = dense(flatten(c), 3)\nloss cross_entropy(logits, y)\n");
  ck_assert_ptr_nonnull(c.m);
  char *text = summary_text(c.m);
  ck_assert_str_eq(text,
                   "model t\n"
                   "  name             kind                   shape                params\n"
                   "  x                input                  [1,8,8]                   0\n"
                   "  y                target                 class(3)                  0\n"
                   "  c                conv2d+relu            [4,8,8]                  40\n"
                   "                   max_pool2d             [4,4,4]                   0\n"
                   "  logits           flatten                [64]                      0\n"
                   "                   dense                  [3]                     195\n"
                   "  loss             cross_entropy          []                        0\n"
                   "  total                                                           235\n");
  free(text);
  checked_free(&c);
  /* the same layer twice: each call's parameters on its own row */
  c = check_text("t.nn", "input x : [8]\ntarget y : class(3)\nh = dense(relu(dense(x, 64)), 3)\n"
                         "loss cross_entropy(h, y)\n");
  ck_assert_ptr_nonnull(c.m);
  text = summary_text(c.m);
  ck_assert_ptr_nonnull(strstr(text, "  h                dense+relu             [64]                    576\n"
                                     "                   dense                  [3]                     195\n"));
  free(text);
  checked_free(&c);
}
END_TEST

/* Defaults without optimizer and train block; relative data paths follow the file. */
START_TEST(test_defaults_and_overrides) {
  Checked c = check_text("t.nn", "param a = 1\nloss a * a\n");
  ck_assert_ptr_nonnull(c.m);
  ck_assert_int_eq(c.m->optim.kind, OPT_SGD);
  ck_assert_double_eq(c.m->optim.lr, 0.01);
  ck_assert(!c.m->has_train);
  ck_assert_int_eq(c.m->train.epochs, 10);
  ck_assert_int_eq(c.m->train.batch, 32);
  ck_assert_ptr_null(c.m->output);
  ck_assert_str_eq(c.m->name, "t");
  checked_free(&c);

  c = check_text("dir/m.nn", "param a = 1\nloss a * a\ntrain {\n  lr = 0.5; epochs = 3\n"
                             "  data = csv(\"d.csv\", targets = \"first\", header = true)\n}\n"
                             "optimizer momentum(lr = 0.1, nesterov = true)\n");
  ck_assert_msg(c.m != NULL, "%s", c.diag);
  ck_assert_int_eq(c.m->optim.kind, OPT_MOMENTUM);
  ck_assert_double_eq(c.m->optim.lr, 0.5);
  ck_assert(c.m->optim.nesterov);
  ck_assert_double_eq(c.m->optim.gamma, 0.9);
  ck_assert_int_eq(c.m->train.epochs, 3);
  ck_assert_str_eq(c.m->train.data.path, "dir/d.csv");
  ck_assert(c.m->train.data.target_first);
  ck_assert(c.m->train.data.header);
  checked_free(&c);
}
END_TEST

/* Layer parameters are named after the binding; a second one gets _2; name= wins. */
START_TEST(test_param_naming) {
  Checked c = check_text("t.nn", "input x : [4]\ntarget y : [2]\n"
                                 "h = dense(relu(dense(x, 3)), 5, init = normal(0.1))\n"
                                 "n = layer_norm(dense(h, 2, bias = false, name = \"fc\"))\n"
                                 "output h\nloss mse(n, y) + l2(0.1)\n");
  ck_assert_msg(c.m != NULL, "%s", c.diag);
  const char *want[] = {"h.w", "h.b", "h_2.w", "h_2.b", "fc.w", "n.gamma", "n.beta"};
  ck_assert_int_eq(c.m->nparams, 7);
  for (int i = 0; i < 7; i++) ck_assert_str_eq(c.m->params[i].name, want[i]);
  ck_assert_int_eq(c.m->params[2].init.kind, INIT_NORMAL);
  ck_assert_double_eq(c.m->params[2].init.b, 0.1);
  ck_assert_int_eq(c.m->params[5].init.kind, INIT_CONST);
  ck_assert_int_eq(c.m->params[0].binding, 0);
  ck_assert_str_eq(c.m->bindings[1].kind, "dense+layer_norm");
  ck_assert_str_eq(c.m->output_name, "h");
  checked_free(&c);
}
END_TEST

/* Param statements: scalars, value lists (nested), initializers, zeros. */
START_TEST(test_param_statements) {
  Checked c = check_text("t.nn", "param a = -2\nparam v = [0.5, -1, 2]\nparam M = [[1, 2], [3, 4], [5, 6]]\n"
                                 "param W : [3, 4] = uniform(-1, 1)\nparam b : [4]\n"
                                 "loss a + sum(v) + sum(M) + sum(v @ W + b)\n");
  ck_assert_msg(c.m != NULL, "%s", c.diag);
  const Model *m = c.m;
  ck_assert_int_eq(m->params[0].init.kind, INIT_CONST);
  ck_assert_double_eq(m->params[0].init.a, -2);
  ck_assert_int_eq(m->params[0].shape.ndim, 0);
  ck_assert_int_eq(m->params[1].init.kind, INIT_VALUES);
  ck_assert_double_eq(m->params[1].init.values[2], 2);
  ck_assert_int_eq(m->params[2].shape.dim[0], 3);
  ck_assert_int_eq(m->params[2].shape.dim[1], 2);
  ck_assert_double_eq(m->params[2].init.values[5], 6);
  ck_assert_int_eq(m->params[3].init.kind, INIT_UNIFORM);
  ck_assert_double_eq(m->params[3].init.a, -1);
  ck_assert_int_eq(m->params[4].init.kind, INIT_ZEROS);
  ck_assert(!m->loss->type.batched);
  checked_free(&c);
}
END_TEST

/* docs/language.md documents every builtin of the table (as `name...). */
START_TEST(test_docs_cover_builtins) {
  size_t len;
  char *doc = read_file("docs/language.md", &len);
  ck_assert_ptr_nonnull(doc);
  for (int i = 0; i < builtin_count; i++) {
    const char *name = builtin_table[i].name;
    size_t n = strlen(name);
    bool found = false;
    for (const char *p = strchr(doc, '`'); p && !found; p = strchr(p + 1, '`')) {
      char next = p[1 + n];
      found = strncmp(p + 1, name, n) == 0 && (next == '(' || next == '`' || next == ' ');
    }
    ck_assert_msg(found, "docs/language.md does not mention `%s`", name);
  }
  free(doc);
}
END_TEST

/* Several inputs and targets: each target's head is an output, and the data
 * source's arguments named after values say what feeds them. */
START_TEST(test_several_inputs_and_targets) {
  Checked c = check_text("dir/m.nn", "input a : [4]\ninput b : [2]\ntarget t : class(3)\ntarget r : [2]\n"
                                     "h = relu(dense(a, 8) + dense(b, 8))\nz = dense(h, 3)\np = dense(h, 2)\n"
                                     "loss 0.5 * mse(p, r) + cross_entropy(z, t)\n"
                                     "train {\n  data = csv(\"d.csv\", a = columns(\"p0\", \"p3\"), b = [\"x\", \"y\"],"
                                     " t = 7, r = b)\n"
                                     "  test = idx(a = \"ta.idx\", b = \"tb.idx\", t = \"tt.idx\", r = \"/abs/tr.idx\","
                                     " scale = 0.5)\n}\n");
  ck_assert_msg(c.m != NULL, "%s", c.diag);
  ck_assert_int_eq(c.m->noutputs, 2);
  ck_assert_str_eq(c.m->outputs[0].name, "z");   /* target order, not loss order */
  ck_assert_int_eq(c.m->outputs[0].target, 0);
  ck_assert_str_eq(c.m->outputs[1].name, "p");
  ck_assert_int_eq(c.m->outputs[1].target, 1);
  ck_assert_str_eq(c.m->output_name, "z");
  const DataSpec *d = &c.m->train.data;
  ck_assert_int_eq(d->nbinds, 4);
  ck_assert_str_eq(d->binds[0].name, "a");
  ck_assert_str_eq(d->binds[0].from, "p0");
  ck_assert_str_eq(d->binds[0].to, "p3");
  ck_assert_int_eq(d->binds[1].ncols, 2);
  ck_assert_str_eq(d->binds[1].cols[1], "y");
  ck_assert(d->binds[2].first == 7 && d->binds[2].last == 7 && !d->binds[2].cols);
  ck_assert_str_eq(d->binds[3].name, "r");   /* r = b: b's columns */
  ck_assert(d->binds[3].ncols == 2 && strcmp(d->binds[3].cols[0], "x") == 0);
  const DataSpec *t = &c.m->train.test;
  ck_assert_int_eq(t->nbinds, 4);
  ck_assert_str_eq(t->binds[0].file, "dir/ta.idx");   /* relative to the model */
  ck_assert_str_eq(t->binds[3].file, "/abs/tr.idx");
  ck_assert_double_eq(t->scale, 0.5);
  checked_free(&c);
  /* one input and one target: the sources need not name them, but may */
  c = check_text("m.nn", "input x : [2]\ntarget y : [1]\np = dense(x, 1)\nloss mse(p, y)\n"
                         "train {\n  data = csv(\"d.csv\")\n  test = csv(\"e.csv\", x = columns(0, 1), y = 2)\n}\n");
  ck_assert_msg(c.m != NULL, "%s", c.diag);
  ck_assert_int_eq(c.m->train.data.nbinds, 0);
  ck_assert_int_eq(c.m->train.test.nbinds, 2);
  ck_assert_int_eq(c.m->noutputs, 1);
  checked_free(&c);
}
END_TEST

Suite *sema_suite(void) {
  Suite *s = suite_create("sema");
  TCase *tc = tcase_create("errors");
  tcase_add_loop_test(tc, test_error_messages, 0, (int)COUNT_OF(errors));
  tcase_add_test(tc, test_several_errors);
  tcase_add_test(tc, test_note_on_definition);
  tcase_add_test(tc, test_failed_declaration_no_cascade);
  suite_add_tcase(s, tc);
  tc = tcase_create("models");
  tcase_add_loop_test(tc, test_examples_check, 0, (int)COUNT_OF(examples));
  tcase_add_test(tc, test_fashion_mlp_model);
  tcase_add_test(tc, test_summary_text);
  tcase_add_test(tc, test_summary_stages);
  tcase_add_test(tc, test_defaults_and_overrides);
  tcase_add_test(tc, test_param_naming);
  tcase_add_test(tc, test_param_statements);
  tcase_add_test(tc, test_several_inputs_and_targets);
  tcase_add_test(tc, test_docs_cover_builtins);
  suite_add_tcase(s, tc);
  return s;
}
