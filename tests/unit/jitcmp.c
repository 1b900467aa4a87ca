/* jitcmp: generated code against the evaluator (see jitcmp.h). */
#include "jitcmp.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ATOL 1e-5
#define RTOL 1e-4

double jitcmp_rnd(uint64_t *s, double lo, double hi) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

static bool close_enough(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (isinf(b)) return a == b;
  return fabs(a - b) <= ATOL + RTOL * fabs(b);
}

static void cmp_vals(Cmp *c, const char *what, const float *got, const double *want, int64_t n) {
  for (int64_t e = 0; e < n; e++)
    if (!close_enough(got[e], want[e]) && c->bad++ == 0)
      snprintf(c->where, sizeof c->where, "%s[%lld]: jit %.9g, eval %.9g", what, (long long)e, got[e], want[e]);
}

Cmp jitcmp_run(IrGraph *g, uint64_t seed, double lo, double hi, int steps, FillFn fill, const JitOptions *opt) {
  Cmp c = {0, ""};
  char err[512];
  JitGraph *j = jit_compile(g, opt, err, sizeof err);
  ck_assert_msg(j != NULL, "jit_compile: %s", err);
  int nl = jit_nleaves(j);
  float **bufs = calloc((size_t)nl + 1, sizeof(float *));
  double **vals = calloc((size_t)g->nodes.len + 1, sizeof(double *));
  double **leafv = calloc((size_t)nl + 1, sizeof(double *));
  for (int i = 0; i < nl; i++) {
    const IrNode *x = jit_leaf(j, i);
    int64_t n = shape_numel(x->shape);
    bufs[i] = aligned_alloc(64, (size_t)(n + 16) / 16 * 64);
    leafv[i] = calloc((size_t)n + 1, sizeof(double));
    for (int64_t e = 0; e < n; e++) {
      bufs[i][e] = (float)(fill ? fill(x, e, &seed) : jitcmp_rnd(&seed, lo, hi));
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

