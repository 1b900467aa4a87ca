/* gradcheck: `nnc check` — finite differences against the symbolic gradient of
 * the whole model, and localization of a disagreeing rule. */
#include "gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grad.h"
#include "init.h"
#include "lower.h"
#include "pipeline.h"
#include "rng.h"

double gradcheck_rel_error(double a, double b) {
  double scale = fmax(fmax(fabs(a), fabs(b)), 1e-4);
  return fabs(a - b) / scale;
}

static bool is_class_target(const Model *m, const char *name) {
  for (int i = 0; i < m->ntargets; i++)
    if (m->targets[i].nclasses > 0 && strcmp(m->targets[i].name, name) == 0) return true;
  return false;
}

double **gradcheck_leaf_values(const IrGraph *g, const Model *m, uint64_t seed, Arena *a) {
  double **vals = NEW_ARRAY(a, double *, g->nodes.len);
  Rng rng;
  rng_seed(&rng, seed);
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.items[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE) continue;
    int64_t numel = shape_numel(n->shape);
    double *v = NEW_ARRAY(a, double, numel);
    if (n->op == OP_INPUT) {
      if (is_class_target(m, n->name) && n->shape.ndim == 2) {
        int k = n->shape.dim[1];
        for (int r = 0; r < n->shape.dim[0]; r++) v[(int64_t)r * k + (int64_t)rng_below(&rng, (uint64_t)k)] = 1;
      } else {
        for (int64_t j = 0; j < numel; j++) v[j] = rng_double(&rng);
      }
    } else {
      float *f = xmalloc(sizeof(float) * (size_t)numel);
      init_fill(&n->init, n->shape, f, &rng);
      for (int64_t j = 0; j < numel; j++) v[j] = f[j];
      free(f);
    }
    vals[i] = v;
  }
  return vals;
}

/* A value array holding only the leaves (and optionally one preset node), so
 * ir_eval recomputes everything else. */
static double **fresh_values(const IrGraph *g, double **leaves, Arena *scratch) {
  double **vals = NEW_ARRAY(scratch, double *, g->nodes.len);
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.items[i];
    if (n->op == OP_INPUT || n->op == OP_PARAM || n->op == OP_STATE) vals[i] = leaves[i];
  }
  return vals;
}

double gradcheck_loss(const IrGraph *g, IrNode *loss, double **leaves, Arena *scratch) {
  double **vals = fresh_values(g, leaves, scratch);
  ir_eval(g, vals, scratch);
  return vals[loss->id][0];
}

/* Finite differences only need the forward part of a gradient graph: a copy
 * of every node up to the loss, so each of the many loss evaluations skips
 * the gradient nodes.  map[id of g] = the copy. */
typedef struct {
  IrGraph *g;         /* the copy */
  IrNode **map;       /* g's node id -> copy (ids <= loss) */
  IrNode *loss;       /* the loss in the copy */
  double **leaves;    /* leaf values indexed by copy ids */
} Forward;

static Forward forward_prefix(const IrGraph *g, IrNode *loss, double **leaves, Arena *a) {
  Forward f = {ir_graph_new(a, g->name, g->batch), NEW_ARRAY(a, IrNode *, loss->id + 1), NULL, NULL};
  for (int i = 0; i <= loss->id; i++) {
    IrNode *n = g->nodes.items[i], *src[3] = {0};
    for (int k = 0; k < n->nsrc; k++) src[k] = f.map[n->src[k]->id];
    f.map[i] = ir_rebuild(f.g, n, src);
  }
  f.loss = f.map[loss->id];
  f.leaves = NEW_ARRAY(a, double *, f.g->nodes.len);
  for (int i = 0; i <= loss->id; i++) f.leaves[f.map[i]->id] = leaves[i];
  return f;
}

/* Evaluates loss with node n's value replaced by `value` (everything
 * downstream recomputed). */
static double loss_with(const Forward *f, IrNode *n, double *value, Arena *scratch) {
  double **vals = fresh_values(f->g, f->leaves, scratch);
  vals[n->id] = value;
  ir_eval(f->g, vals, scratch);
  return vals[f->loss->id][0];
}

/* Finite differences of the loss along direction dir at base: the central
 * difference, and whether the point is a kink (ReLU at 0, |x| at 0, max at a
 * tie): there the one-sided slopes disagree and no derivative exists to
 * compare with, so the probe is skipped rather than blamed on a rule.  On a
 * smooth loss the one-sided slopes differ by about h * curvature, far below
 * the 1% that marks a kink. */
typedef struct {
  double slope;   /* central difference */
  bool kink;      /* one-sided slopes disagree */
} Difference;

static Difference difference(const Forward *f, IrNode *n, const double *base, const double *dir, double h,
                             double f0) {
  int64_t numel = shape_numel(n->shape);
  Arena *tmp = arena_new();
  double *v = NEW_ARRAY(tmp, double, numel);
  for (int64_t i = 0; i < numel; i++) v[i] = base[i] + h * dir[i];
  double up = loss_with(f, n, v, tmp);
  for (int64_t i = 0; i < numel; i++) v[i] = base[i] - h * dir[i];
  double down = loss_with(f, n, v, tmp);
  arena_free(tmp);
  double fwd = (up - f0) / h, bwd = (f0 - down) / h;
  return (Difference){(up - down) / (2 * h), fabs(fwd - bwd) > 1e-2 * fmax(fmax(fabs(fwd), fabs(bwd)), 1e-4)};
}

/* Worst relative error between the adjoint adj of node n (value base) and
 * finite differences: along one random unit direction through all elements
 * (sensitive to every element at once, and far above rounding noise), and
 * along the coordinate axes of the elements with the largest adjoints (so a
 * wrong element is named by its size, not drowned by it).  Tiny adjoints are
 * below the difference's rounding noise, so they are not probed one by one.
 * *nkinks counts probes skipped at points where the loss has no derivative. */
static double worst_error(const Forward *f, IrNode *n, const double *base, const double *adj, int max_probe,
                          Rng *rng, int *nprobed, int *nkinks) {
  int64_t numel = shape_numel(n->shape);
  double scale = 1;
  for (int64_t i = 0; i < numel; i++) scale = fmax(scale, fabs(base[i]));
  double h = 1e-5 * scale;
  Arena *tmp = arena_new();
  double f0 = loss_with(f, n, (double *)base, tmp);
  arena_free(tmp);
  double *dir = xcalloc((size_t)numel, sizeof(double));
  /* a unit direction: each element moves by h/sqrt(numel), so a wide layer's
   * pre-activations barely move and ReLU kinks are rarely crossed */
  double unit = 1 / sqrt((double)numel), along = 0, worst = 0;
  for (int64_t i = 0; i < numel; i++) {
    dir[i] = rng_below(rng, 2) ? unit : -unit;
    along += adj[i] * dir[i];
  }
  *nkinks = 0;
  Difference d = difference(f, n, base, dir, h, f0);
  if (d.kink) ++*nkinks;
  else worst = gradcheck_rel_error(along, d.slope);
  memset(dir, 0, sizeof(double) * (size_t)numel);
  /* the largest adjoints, by repeated selection (max_probe is small) */
  bool *taken = xcalloc((size_t)numel, sizeof(bool));
  int np = 0;
  for (; np < max_probe && np < numel; np++) {
    int64_t best = -1;
    for (int64_t i = 0; i < numel; i++)
      if (!taken[i] && (best < 0 || fabs(adj[i]) > fabs(adj[best]))) best = i;
    taken[best] = true;
    dir[best] = 1;
    d = difference(f, n, base, dir, h, f0);
    dir[best] = 0;
    if (d.kink) {
      ++*nkinks;
      continue;
    }
    double e = gradcheck_rel_error(adj[best], d.slope);
    if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
  }
  free(taken);
  free(dir);
  *nprobed = np;
  return worst;
}

IrNode *gradcheck_localize(IrGraph *g, IrNode *loss, double **leaves, AdjointFn adjoint, double tol,
                           Arena *scratch) {
  if (!adjoint) adjoint = grad_build;
  /* the non-leaf values the loss depends on, from the loss backwards */
  bool *needed = xcalloc((size_t)loss->id + 1, sizeof(bool));
  needed[loss->id] = true;
  IrNode **wrt = NEW_ARRAY(scratch, IrNode *, loss->id + 1);
  int n = 0;
  for (int i = loss->id; i >= 0; i--) {
    IrNode *x = g->nodes.items[i];
    if (!needed[i]) continue;
    for (int s = 0; s < x->nsrc; s++) needed[x->src[s]->id] = true;
    bool piecewise_constant = x->op == OP_RAND || x->op == OP_CMPLT || x->op == OP_SIGN;
    if (i < loss->id && op_info[x->op].kind != OPK_LEAF && !piecewise_constant) wrt[n++] = x;
  }
  free(needed);
  Forward f = forward_prefix(g, loss, leaves, scratch);
  IrNode **adj = adjoint(g, loss, n, wrt);  /* one reverse sweep for all of them */
  double **vals = fresh_values(g, leaves, scratch);
  ir_eval(g, vals, scratch);
  Rng rng;
  rng_seed(&rng, 7);
  for (int k = 0; k < n; k++) {
    int np, nkinks;
    double e = worst_error(&f, f.map[wrt[k]->id], vals[wrt[k]->id], vals[adj[k]->id], 2, &rng, &np, &nkinks);
    if (e > tol) return wrt[k];
  }
  return NULL;
}

/* Whether the loss depends on node x. */
static bool reaches_loss(const IrGraph *g, const IrNode *x, const IrNode *loss) {
  if (x->id > loss->id) return false;
  bool *needed = xcalloc((size_t)loss->id + 1, sizeof(bool));
  needed[loss->id] = true;
  for (int i = loss->id; i > x->id; i--) {
    IrNode *n = g->nodes.items[i];
    if (needed[i])
      for (int k = 0; k < n->nsrc; k++) needed[n->src[k]->id] = true;
  }
  bool r = needed[x->id];
  free(needed);
  return r;
}

static void print_node_ref(FILE *out, const IrNode *n) {
  fprintf(out, "%s", op_info[n->op].name);
  if (n->name) fprintf(out, " %s", n->name);
  if (n->label) fprintf(out, " (value '%s')", n->label);
  if (n->loc.file) fprintf(out, " at %s:%d:%d", n->loc.file, n->loc.line, n->loc.col);
}

/* A central difference in double with a step of 1e-5 carries rounding noise
 * of about DBL_EPSILON * |loss| / 1e-5, some 1e-11 of the loss, and more
 * relative to a small gradient: relative errors below this cannot tell a
 * wrong rule from noise (correct rules measure 1e-11 to 1e-9). */
static const double CHECK_RESOLUTION = 1e-8;

int cmd_check(const Cli *c) {
  Front f;
  int status = 1;
  if (!front_load(&f, c->pos[0], c)) goto done;
  long long batch = 4, seed = 1, limit = f.model->nparams;
  double tol = 1e-5;
  if (!cli_int(c, "batch", 1, 4096, &batch) || !cli_int(c, "seed", 0, 1LL << 62, &seed) ||
      !cli_double(c, "tol", &tol) || !cli_int(c, "limit", 1, 1 << 30, &limit) ||
      !front_check_batch(&f, lower_has_batch(f.model) ? (int)batch : 0))
    goto done;
  if (!(tol > 0)) {
    fprintf(stderr, "nnc check: --tol must be positive, got %g\n", tol);
    goto done;
  }
  const Model *m = f.model;
  int b = m->ninputs + m->ntargets > 0 ? (int)batch : 0;
  IrGraph *g = pipeline_graph(m, f.arena, PIPE_GRAD, b, true);   /* as written: finite differences check the rules */
  IrNode *loss = ir_find_output(g, "loss");
  double **leaves = gradcheck_leaf_values(g, m, (uint64_t)seed, f.arena);
  Arena *scratch = arena_new();
  double **vals = fresh_values(g, leaves, scratch);
  ir_eval(g, vals, scratch);
  if (b) printf("gradient check of %s: batch %d, seed %lld, tolerance %g\n", m->name, b, seed, tol);
  else printf("gradient check of %s: no inputs, seed %lld, tolerance %g\n", m->name, seed, tol);
  if (tol < CHECK_RESOLUTION)
    printf("note: --tol %g is below what finite differences in double precision resolve (about %g): smaller "
           "errors are rounding noise\n", tol, CHECK_RESOLUTION);
  printf("loss = %.9g\n", vals[loss->id][0]);
  Rng rng;
  rng_seed(&rng, (uint64_t)seed + 1);
  Forward fw = forward_prefix(g, loss, leaves, scratch);
  bool ok = true;
  double worst = 0;
  if (limit < m->nparams) printf("checking the first %lld of %d parameters (--limit)\n", limit, m->nparams);
  for (int i = 0; i < m->nparams && i < limit; i++) {
    const ModelParam *p = &m->params[i];
    IrNode *leaf = ir_find_leaf(g, OP_PARAM, p->name);
    char name[128];
    snprintf(name, sizeof name, "grad %s", p->name);
    IrNode *gn = ir_find_output(g, name);
    if (!leaf || !gn || !reaches_loss(g, leaf, loss)) {
      printf("  %-24s %-12s not used by the loss: its gradient is zero\n", p->name, shape_str(p->shape, (char[96]){0}));
      continue;
    }
    int np, nkinks;
    double e = worst_error(&fw, fw.map[leaf->id], leaves[leaf->id], vals[gn->id], 12, &rng, &np, &nkinks);
    char sh[96];
    printf("  %-24s %-12s worst relative error %.2e (all elements along a random direction, and the %d largest",
           p->name, shape_str(p->shape, sh), e, np);
    if (nkinks) printf("; %d probe%s skipped: no derivative there", nkinks, nkinks == 1 ? "" : "s");
    printf(")\n");
    if (!(e <= tol)) ok = false;
    worst = isnan(e) || e > worst ? e : worst;
  }
  if (ok) {
    printf("PASS\n");
    status = 0;
  } else if (worst <= CHECK_RESOLUTION) {
    printf("NOT CHECKED to --tol %g: finite differences resolve relative errors down to about %g, and every error "
           "is below that: rounding noise, no sign of a wrong gradient rule (use --tol %g or more)\n",
           tol, CHECK_RESOLUTION, CHECK_RESOLUTION);
  } else {
    printf("FAIL\n");
    IrNode *bad = gradcheck_localize(g, loss, leaves, NULL, tol, scratch);
    if (bad) {
      printf("first value whose gradient disagrees: ");
      print_node_ref(stdout, bad);
      printf("\nthe gradient rule of one of its users is wrong\n");
    }
  }
  arena_free(scratch);
done:
  front_free(&f);
  return status;
}
