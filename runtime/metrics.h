/* metrics: what accuracy means for a model, and the per-class tables of
 * `nnc eval`.
 *
 * The loss says how the output is read (docs/training.md, "Metrics"):
 *   class(k) target under cross_entropy   argmax of the output against the label
 *   real [k] target under cross_entropy   argmax against the target's argmax (one-hot)
 *   0/1 target under binary_cross_entropy the logit's sign against y >= 0.5
 *                                         (sigmoid(z) >= 0.5 exactly when z >= 0),
 *                                         each column judged on its own
 * Any other model (a regression) has no accuracy.  Each judgement is one
 * (true class, predicted class) pair: accuracy counts the equal ones, and
 * the confusion matrix counts all of them.
 */
#ifndef NNC_METRICS_H
#define NNC_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sema.h"

typedef enum {
  METRIC_NONE,     /* no accuracy */
  METRIC_CLASS,    /* class(k) target */
  METRIC_ONEHOT,   /* real [k] target read as one-hot */
  METRIC_BINARY,   /* 0/1 targets, logits */
} MetricKind;

typedef struct {
  MetricKind kind;            /* how the output is read */
  int width;                  /* output floats per sample */
  int nclasses;               /* classes of the confusion matrix: k, or 2 for binary */
  int per_sample;             /* judgements per sample: 1, or width for binary */
  const char *const *names;   /* class names from class(k, names = [...]), or NULL */
} MetricSpec;

/* How m's output is judged (METRIC_NONE without an output or such a loss). */
MetricSpec metrics_spec(const Model *m);
/* How output i of m (m->outputs) is judged against its target. */
MetricSpec metrics_output_spec(const Model *m, int i);
/* How the value output is judged by the loss's first such call on target
 * (-1: any target). */
MetricSpec metrics_judge(const Model *m, const Expr *output, int target);

/* Judgement j of one sample: the predicted class from its output row, and
 * the true class from its target row (or label, for class targets). */
int metrics_predicted(const MetricSpec *s, const float *out, int j);
int metrics_truth(const MetricSpec *s, const float *y, int label, int j);

/* Rows: true class, columns: predicted class. */
typedef struct {
  int k;              /* classes */
  int64_t *count;     /* k * k counts (heap) */
} Confusion;

void confusion_init(Confusion *c, int k);
void confusion_free(Confusion *c);
/* The matrix (when k is small enough to read) and per-class precision,
 * recall, F1 and support, with class names when the spec has them. */
void confusion_print(FILE *out, const Confusion *c, const MetricSpec *s);

/* "3" or "3 T-shirt": a class as output shows it. */
const char *metrics_class_label(const MetricSpec *s, int k, char *buf, size_t len);

#endif
