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
#include "rng.h"

/* Finite-difference step relative to the value's magnitude. */
static double fd_step(double x) { return 1e-6 * fmax(1.0, fabs(x)); }

double gradcheck_rel_error(double a, double b) {
  double scale = fmax(fmax(fabs(a), fabs(b)), 1e-6);
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

/* Elements of a tensor to probe: all of a small one, else a spread sample. */
static int probe_elements(int64_t numel, int64_t *out, int max, Rng *rng) {
  if (numel <= max) {
    for (int64_t i = 0; i < numel; i++) out[i] = i;
    return (int)numel;
  }
  for (int i = 0; i < max; i++) out[i] = (int64_t)rng_below(rng, (uint64_t)numel);
  return max;
}

/* Evaluates loss with node n's value replaced by `value` (everything
 * downstream recomputed). */
static double loss_with(const IrGraph *g, IrNode *loss, double **leaves, IrNode *n, double *value,
                        Arena *scratch) {
  double **vals = fresh_values(g, leaves, scratch);
  vals[n->id] = value;
  ir_eval(g, vals, scratch);
  return vals[loss->id][0];
}

/* Worst relative error between the adjoint values adj (numel of n) and
 * central differences at a few elements of n, whose current value is base. */
static double worst_error(const IrGraph *g, IrNode *loss, double **leaves, IrNode *n, const double *base,
                          const double *adj, int max_probe, Rng *rng, int *nprobed) {
  int64_t numel = shape_numel(n->shape);
  int64_t idx[16];
  int np = probe_elements(numel, idx, max_probe < 16 ? max_probe : 16, rng);
  double worst = 0;
  Arena *tmp = arena_new();
  double *v = NEW_ARRAY(tmp, double, numel);
  for (int p = 0; p < np; p++) {
    memcpy(v, base, sizeof(double) * (size_t)numel);
    double x = base[idx[p]], h = fd_step(x);
    v[idx[p]] = x + h;
    double up = loss_with(g, loss, leaves, n, v, tmp);
    v[idx[p]] = x - h;
    double down = loss_with(g, loss, leaves, n, v, tmp);
    double fd = (up - down) / (2 * h);
    double e = gradcheck_rel_error(adj[idx[p]], fd);
    if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
  }
  arena_free(tmp);
  *nprobed = np;
  return worst;
}

IrNode *gradcheck_localize(IrGraph *g, IrNode *loss, double **leaves, AdjointFn adjoint, double tol,
                           Arena *scratch) {
  int nforward = loss->id + 1;
  /* the nodes the loss depends on */
  bool *needed = xcalloc((size_t)nforward, sizeof(bool));
  needed[loss->id] = true;
  for (int i = loss->id; i >= 0; i--) {
    IrNode *n = g->nodes.items[i];
    if (!needed[i]) continue;
    for (int s = 0; s < n->nsrc; s++) needed[n->src[s]->id] = true;
  }
  Rng rng;
  rng_seed(&rng, 7);
  IrNode *culprit = NULL;
  for (int i = loss->id - 1; i >= 0 && !culprit; i--) {
    IrNode *n = g->nodes.items[i];
    if (!needed[i] || n->op == OP_CONST || n->op == OP_INPUT || n->op == OP_STATE) continue;
    if (n->op == OP_RAND || n->op == OP_CMPLT || n->op == OP_SIGN) continue;  /* piecewise constant */
    IrNode *adj = adjoint(g, loss, n);
    double **vals = fresh_values(g, leaves, scratch);
    ir_eval(g, vals, scratch);
    int np;
    double e = worst_error(g, loss, leaves, n, vals[n->id], vals[adj->id], 4, &rng, &np);
    if (e > tol) culprit = n;
  }
  free(needed);
  return culprit;
}

static IrNode *symbolic_adjoint(IrGraph *g, IrNode *loss, IrNode *wrt) {
  return grad_build(g, loss, 1, &wrt)[0];
}

static void print_node_ref(FILE *out, const IrNode *n) {
  fprintf(out, "%s", op_info[n->op].name);
  if (n->name) fprintf(out, " %s", n->name);
  if (n->label) fprintf(out, " (value '%s')", n->label);
  if (n->loc.file) fprintf(out, " at %s:%d:%d", n->loc.file, n->loc.line, n->loc.col);
}

int cmd_check(const Cli *c) {
  Front f;
  int status = 1;
  if (!front_load(&f, c->pos[0], c)) goto done;
  long long batch = 2, seed = 1;
  double tol = 1e-5;
  if (!cli_int(c, "batch", 1, 4096, &batch) || !cli_int(c, "seed", 0, 1LL << 62, &seed) ||
      !cli_double(c, "tol", &tol))
    goto done;
  const Model *m = f.model;
  int b = m->ninputs + m->ntargets > 0 ? (int)batch : 0;
  IrGraph *g = lower_grad(m, f.arena, b);
  IrNode *loss = ir_find_output(g, "loss");
  double **leaves = gradcheck_leaf_values(g, m, (uint64_t)seed, f.arena);
  Arena *scratch = arena_new();
  double **vals = fresh_values(g, leaves, scratch);
  ir_eval(g, vals, scratch);
  printf("gradient check of %s: batch %d, seed %lld, tolerance %g\n", m->name, b, seed, tol);
  printf("loss = %.9g\n", vals[loss->id][0]);
  Rng rng;
  rng_seed(&rng, (uint64_t)seed + 1);
  bool ok = true;
  for (int i = 0; i < m->nparams; i++) {
    const ModelParam *p = &m->params[i];
    IrNode *leaf = ir_find_leaf(g, OP_PARAM, p->name);
    char name[128];
    snprintf(name, sizeof name, "grad %s", p->name);
    IrNode *gn = ir_find_output(g, name);
    if (!leaf || !gn) continue;  /* not used by the loss */
    int np;
    double e = worst_error(g, loss, leaves, leaf, leaves[leaf->id], vals[gn->id], 12, &rng, &np);
    char sh[96];
    printf("  %-24s %-12s worst relative error %.2e over %d of %lld elements\n", p->name,
           shape_str(p->shape, sh), e, np, (long long)shape_numel(p->shape));
    if (!(e <= tol)) ok = false;
  }
  if (ok) {
    printf("PASS\n");
    status = 0;
  } else {
    printf("FAIL\n");
    IrNode *bad = gradcheck_localize(g, loss, leaves, symbolic_adjoint, tol, scratch);
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
