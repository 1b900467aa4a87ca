/* grad_at: `nnc grad FILE --at NAME=VALUE,...` — the loss and its gradients
 * evaluated at one point, in double precision on the reference evaluator.
 *
 * The point is one sample (batch 1).  Every value the evaluation uses is
 * printed with where it came from, so nothing is drawn behind the user's
 * back: values named in --at, inputs not named there drawn uniformly in
 * [0,1) (a class target as a random class), parameters from their
 * initializers, all seeded by the model's seed.  A value is a number (for a
 * tensor: every element), a bracketed list with one number per element, or
 * for a class target the class number.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grad.h"
#include "gradcheck.h"
#include "lower.h"
#include "pipeline.h"

/* One NAME=VALUE of --at. */
typedef struct {
  const char *name;   /* as given */
  double *v;          /* the numbers, brackets flattened */
  int n;              /* how many */
  bool list;          /* written in brackets */
} AtValue;

typedef struct {
  AtValue *items;     /* in the order given */
  int n;              /* how many */
} AtList;

/* Reads "[1, [2, 3]]" or "4" at *p into v (capacity cap); advances *p. */
static bool parse_value(const char **p, AtValue *v, int cap) {
  const char *s = *p;
  int depth = 0;
  for (;;) {
    while (*s == ' ') s++;
    if (*s == '[') {
      depth++;
      v->list = true;
      s++;
      continue;
    }
    char *end;
    double x = strtod(s, &end);
    if (end == s || !isfinite(x) || v->n == cap) return false;
    v->v[v->n++] = x;
    s = end;
    while (*s == ' ' || (*s == ']' && depth > 0)) depth -= *s++ == ']';
    if (depth == 0) break;
    if (*s != ',') return false;
    s++;
  }
  *p = s;
  return true;
}

/* Parses "a=3,x=[1,2],y=2"; false with the reason in err. */
static bool parse_at(const char *spec, Arena *a, AtList *out, char *err, size_t errlen) {
  int cap = 1;
  for (const char *p = spec; *p; p++) cap += *p == ',' || *p == '=';
  *out = (AtList){NEW_ARRAY(a, AtValue, cap), 0};
  const char *p = spec;
  while (*p) {
    const char *eq = strchr(p, '=');
    if (!eq || eq == p) return errorf(err, errlen, "expected NAME=VALUE at '%s'", p);
    AtValue *v = &out->items[out->n++];
    *v = (AtValue){.name = arena_strndup(a, p, (size_t)(eq - p)), .v = NEW_ARRAY(a, double, cap)};
    p = eq + 1;
    if (!parse_value(&p, v, cap))
      return errorf(err, errlen, "the value of '%s' is not a number or a [list] of numbers", v->name);
    for (int k = 0; k < v->n; k++)   /* nnc trains in float32: a value it cannot hold means nothing there */
      if (fabs(v->v[k]) > FLT_MAX)
        return errorf(err, errlen, "the value %g of '%s' is beyond float range (magnitude at most %g)", v->v[k],
                      v->name, FLT_MAX);
    if (*p && *p != ',') return errorf(err, errlen, "unexpected '%s' after the value of '%s'", p, v->name);
    if (*p) p++;
  }
  return true;
}

/* The leaf an --at name refers to, with a suggestion when there is none. */
static IrNode *find_named_leaf(const IrGraph *g, const char *name, char *err, size_t errlen) {
  IrNode *leaf = ir_find_leaf(g, OP_PARAM, name);
  if (!leaf) leaf = ir_find_leaf(g, OP_INPUT, name);
  if (leaf) return leaf;
  const char *cands[256];
  int nc = 0;
  for (int k = 0; k < g->nodes.len && nc < 256; k++) {
    IrNode *x = g->nodes.items[k];
    if (x->op == OP_PARAM || x->op == OP_INPUT) cands[nc++] = x->name;
  }
  const char *near = closest_name(name, cands, nc);
  errorf(err, errlen, "'%s' is not a parameter, input or target%s%s%s", name, near ? "; did you mean '" : "",
         near ? near : "", near ? "'?" : "");
  return NULL;
}

static const ModelValue *class_target(const Model *m, const char *name) {
  for (int i = 0; i < m->ntargets; i++)
    if (m->targets[i].nclasses > 0 && strcmp(m->targets[i].name, name) == 0) return &m->targets[i];
  return NULL;
}

/* Stores an --at value into the leaf's buffer dst (numel elements). */
static bool assign(const Model *m, const IrNode *leaf, const AtValue *v, double *dst, char *err, size_t errlen) {
  int64_t numel = shape_numel(leaf->shape);
  const ModelValue *ct = leaf->op == OP_INPUT ? class_target(m, leaf->name) : NULL;
  if (ct && !v->list) {
    double k = v->v[0];
    if (k != floor(k) || k < 0 || k >= ct->nclasses)
      return errorf(err, errlen, "%s is a class(%d) target: give a class number from 0 to %d, or [%d values]",
                    v->name, ct->nclasses, ct->nclasses - 1, ct->nclasses);
    memset(dst, 0, sizeof(double) * (size_t)numel);
    dst[(int64_t)k] = 1;
    return true;
  }
  if (v->n == 1 && !v->list) {
    for (int64_t i = 0; i < numel; i++) dst[i] = v->v[0];
    return true;
  }
  if (v->n != numel)
    return errorf(err, errlen, "%s has %lld element%s; %d value%s given", v->name, (long long)numel,
                  numel == 1 ? "" : "s", v->n, v->n == 1 ? " was" : "s were");
  memcpy(dst, v->v, sizeof(double) * (size_t)numel);
  return true;
}

/* A leaf's shape as the language writes it: inputs without the batch axis. */
static Shape value_shape(const IrNode *leaf) {
  Shape s = leaf->shape;
  if (leaf->op != OP_INPUT || s.ndim == 0) return s;
  for (int i = 1; i < s.ndim; i++) s.dim[i - 1] = s.dim[i];
  s.ndim--;
  return s;
}

/* "NAME [shape] = v1 v2 ..." (a summary past 16 elements unless all), no newline. */
static void print_values(FILE *out, const char *what, Shape s, const double *v, bool all) {
  int64_t numel = shape_numel(s);
  char sh[96];
  if (s.ndim == 0 || numel == 1) {
    fprintf(out, "%s = %.9g", what, v[0]);
    return;
  }
  fprintf(out, "%s %s =", what, shape_str(s, sh));
  if (numel <= 16 || all) {
    for (int64_t i = 0; i < numel; i++) fprintf(out, " %.9g", v[i]);
    return;
  }
  double lo = v[0], hi = v[0], ss = 0;
  for (int64_t i = 0; i < numel; i++) {
    lo = fmin(lo, v[i]);
    hi = fmax(hi, v[i]);
    ss += v[i] * v[i];
  }
  fprintf(out, " norm %.6g, min %.6g, max %.6g (%lld elements)", sqrt(ss), lo, hi, (long long)numel);
}

/* One line per leaf the loss reads: its value and where the value came from. */
static void print_point(const Model *m, const IrGraph *g, double **leaves, const bool *given, bool all) {
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.items[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM) continue;
    const ModelValue *ct = n->op == OP_INPUT ? class_target(m, n->name) : NULL;
    const double *v = leaves[i];
    int64_t hot = -1, k = ct ? ct->nclasses : 0;
    for (int64_t j = 0; j < k; j++)
      if (v[j] == 1 && hot < 0) hot = j;
      else if (v[j] != 0) hot = -2;
    if (hot >= 0) printf("%s = class %lld of %lld", n->name, (long long)hot, (long long)k);
    else print_values(stdout, n->name, value_shape(n), v, all);
    const char *from = given[i]                     ? "--at"
                       : n->op == OP_INPUT && ct    ? "random class"
                       : n->op == OP_INPUT          ? "random in [0,1)"
                       : n->init.kind == INIT_ZEROS || n->init.kind == INIT_CONST || n->init.kind == INIT_VALUES
                           ? "initial value"
                           : "random initializer";
    if (!given[i] && strncmp(from, "random", 6) == 0) printf("  (%s, seed %llu)\n", from, m->train.seed);
    else printf("  (%s)\n", from);
  }
}

/* Gradients with respect to every input (--input-grads), as extra outputs. */
static void add_input_grads(IrGraph *g, const Model *m) {
  IrNode **wrt = NEW_ARRAY(g->arena, IrNode *, m->ninputs + 1);
  for (int i = 0; i < m->ninputs; i++) wrt[i] = ir_find_leaf(g, OP_INPUT, m->inputs[i].name);
  IrNode **grads = grad_build(g, ir_find_output(g, "loss"), m->ninputs, wrt);
  for (int i = 0; i < m->ninputs; i++)
    ir_output(g, arena_printf(g->arena, "grad %s", m->inputs[i].name), grads[i]);
}

int cmd_grad_at(const Cli *c, Front *f) {
  const Model *m = f->model;
  char err[512];
  if (cli_flag(c, "dot") || cli_flag(c, "raw")) {
    fprintf(stderr, "nnc grad: --%s shows the gradient graph and --at evaluates it; give one of them\n",
            cli_flag(c, "dot") ? "dot" : "raw");
    return 1;
  }
  if (cli_flag(c, "input-grads") && m->ninputs == 0) {
    fprintf(stderr, "nnc grad: --input-grads: %s has no inputs\n", m->name);
    return 1;
  }
  IrGraph *g = pipeline_graph(m, f->arena, PIPE_GRAD, lower_has_batch(m) ? 1 : 0, true);
  if (cli_flag(c, "input-grads")) add_input_grads(g, m);
  AtList at;
  if (!parse_at(cli_get(c, "at"), f->arena, &at, err, sizeof err)) {
    fprintf(stderr, "nnc grad: --at: %s (expected NAME=VALUE,... with VALUE a number or [numbers])\n", err);
    return 1;
  }
  double **leaves = gradcheck_leaf_values(g, m, m->train.seed, f->arena);
  bool *given = NEW_ARRAY(f->arena, bool, g->nodes.len);
  for (int i = 0; i < at.n; i++) {
    IrNode *leaf = find_named_leaf(g, at.items[i].name, err, sizeof err);
    if (leaf && given[leaf->id]) {
      fprintf(stderr, "nnc grad: --at: '%s' is given twice\n", leaf->name);
      return 1;
    }
    if (!leaf || !assign(m, leaf, &at.items[i], leaves[leaf->id], err, sizeof err)) {
      fprintf(stderr, "nnc grad: --at: %s\n", err);
      return 1;
    }
    given[leaf->id] = true;
  }
  bool all = cli_flag(c, "all");
  print_point(m, g, leaves, given, all);
  Arena *scratch = arena_new();
  double **vals = NEW_ARRAY(scratch, double *, g->nodes.len);
  for (int i = 0; i < g->nodes.len; i++) vals[i] = leaves[i];
  ir_eval(g, vals, scratch);
  for (int i = 0; i < g->outputs.len; i++) {
    IrOutput *o = g->outputs.items[i];
    if (strcmp(o->name, "loss") != 0 && strncmp(o->name, "grad ", 5) != 0) continue;
    IrNode *leaf = strncmp(o->name, "grad ", 5) == 0 ? ir_find_leaf(g, OP_INPUT, o->name + 5) : NULL;
    print_values(stdout, o->name, leaf ? value_shape(leaf) : o->node->shape, vals[o->node->id], all);
    putchar('\n');
  }
  arena_free(scratch);
  return 0;
}
