/* metrics: the metric a loss implies, judgements, and the confusion table. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"

/* The first cross_entropy or binary_cross_entropy call of the loss whose
 * target argument is model target t (-1: any), looking through bindings;
 * NULL if none. */
static const Expr *judged_loss(const Model *m, const Expr *e, int t, int depth) {
  if (!e || depth > AST_MAX_DEPTH) return NULL;
  switch (e->kind) {
  case EX_LET: return judged_loss(m, m->bindings[e->ref].value, t, depth + 1);
  case EX_NEG: return judged_loss(m, e->lhs, t, depth + 1);
  case EX_BINARY: {
    const Expr *l = judged_loss(m, e->lhs, t, depth + 1);
    return l ? l : judged_loss(m, e->rhs, t, depth + 1);
  }
  case EX_CALL: {
    bool ce = strcmp(e->fn->name, "cross_entropy") == 0, bce = strcmp(e->fn->name, "binary_cross_entropy") == 0;
    if ((ce || bce) && e->args[1].x && e->args[1].x->kind == EX_TARGET && (t < 0 || e->args[1].x->ref == t)) return e;
    for (int i = 0; i < BUILTIN_MAX_PARAMS && e->fn->params[i].name; i++) {
      const Expr *l = e->fn->params[i].type == AT_TENSOR ? judged_loss(m, e->args[i].x, t, depth + 1) : NULL;
      if (l) return l;
    }
    return NULL;
  }
  default: return NULL;
  }
}

MetricSpec metrics_spec(const Model *m) {
  return m->noutputs > 1 ? metrics_output_spec(m, 0) : metrics_judge(m, m->output, -1);
}

MetricSpec metrics_output_spec(const Model *m, int i) {
  return m->outputs[i].target >= 0 ? metrics_judge(m, m->outputs[i].value, m->outputs[i].target)
                                   : (MetricSpec){.kind = METRIC_NONE};
}

MetricSpec metrics_judge(const Model *m, const Expr *output, int target) {
  MetricSpec s = {.kind = METRIC_NONE};
  const Expr *l = output ? judged_loss(m, m->loss, target, 0) : NULL;
  if (!l) return s;
  const ModelValue *t = &m->targets[l->args[1].x->ref];
  s.width = (int)shape_numel(output->type.shape);
  if (s.width != shape_numel(l->args[0].x->type.shape)) return (MetricSpec){.kind = METRIC_NONE};
  if (strcmp(l->fn->name, "binary_cross_entropy") == 0) {
    s.kind = METRIC_BINARY;
    s.nclasses = 2;
    s.per_sample = s.width;
  } else {
    s.kind = t->nclasses > 0 ? METRIC_CLASS : METRIC_ONEHOT;
    s.nclasses = s.width;
    s.per_sample = 1;
    s.names = t->class_names;
  }
  return s;
}

static int argmax(const float *v, int k) {
  int best = 0;
  for (int i = 1; i < k; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

int metrics_predicted(const MetricSpec *s, const float *out, int j) {
  return s->kind == METRIC_BINARY ? out[j] >= 0 : argmax(out, s->width);
}

int metrics_truth(const MetricSpec *s, const float *y, int label, int j) {
  switch (s->kind) {
  case METRIC_CLASS: return label;
  case METRIC_ONEHOT: return argmax(y, s->width);
  default: return y[j] >= 0.5f;
  }
}

void confusion_init(Confusion *c, int k) { *c = (Confusion){k, xcalloc((size_t)k * (size_t)k, sizeof(int64_t))}; }

void confusion_free(Confusion *c) {
  free(c->count);
  *c = (Confusion){0};
}

const char *metrics_class_label(const MetricSpec *s, int k, char *buf, size_t len) {
  if (s->names) snprintf(buf, len, "%d %s", k, s->names[k]);
  else snprintf(buf, len, "%d", k);
  return buf;
}

/* A ratio, or "-" when its denominator is 0 (no such predictions). */
static void print_ratio(FILE *out, double num, double den) {
  if (den > 0) fprintf(out, " %9.4f", num / den);
  else fprintf(out, " %9s", "-");
}

enum { MATRIX_MAX = 20 };   /* wider matrices do not fit a terminal line */

/* The rows' label column: as wide as the longest "k name", at least 12. */
static int label_width(const MetricSpec *s, int k) {
  int w = 12;
  char buf[256];
  for (int i = 0; i < k; i++) w = (int)fmax(w, (double)strlen(metrics_class_label(s, i, buf, sizeof buf)));
  return w > 40 ? 40 : w;
}

void confusion_print(FILE *out, const Confusion *c, const MetricSpec *s) {
  int k = c->k, w = label_width(s, k);
  char buf[256];
  if (k <= MATRIX_MAX) {
    fprintf(out, "confusion matrix (rows: true class, columns: predicted class)\n  %-*s", w, "");
    for (int j = 0; j < k; j++) fprintf(out, " %6d", j);
    fputc('\n', out);
    for (int i = 0; i < k; i++) {
      fprintf(out, "  %-*.*s", w, w, metrics_class_label(s, i, buf, sizeof buf));
      for (int j = 0; j < k; j++) fprintf(out, " %6lld", (long long)c->count[i * k + j]);
      fputc('\n', out);
    }
  }
  fprintf(out, "  %-*s %9s %9s %9s %9s\n", w, "class", "precision", "recall", "f1", "support");
  double sum_p = 0, sum_r = 0, sum_f = 0;
  int64_t total = 0;
  for (int i = 0; i < k; i++) {
    int64_t tp = c->count[i * k + i], predicted = 0, actual = 0;
    for (int j = 0; j < k; j++) {
      predicted += c->count[j * k + i];
      actual += c->count[i * k + j];
    }
    double p = predicted ? (double)tp / (double)predicted : 0, r = actual ? (double)tp / (double)actual : 0;
    double f = p + r > 0 ? 2 * p * r / (p + r) : 0;
    sum_p += p, sum_r += r, sum_f += f, total += actual;
    fprintf(out, "  %-*.*s", w, w, metrics_class_label(s, i, buf, sizeof buf));
    print_ratio(out, (double)tp, (double)predicted);
    print_ratio(out, (double)tp, (double)actual);
    print_ratio(out, 2.0 * (double)tp, (double)(predicted + actual));
    fprintf(out, " %9lld\n", (long long)actual);
  }
  fprintf(out, "  %-*s %9.4f %9.4f %9.4f %9lld\n", w, "macro average", sum_p / k, sum_r / k, sum_f / k,
          (long long)total);
}
