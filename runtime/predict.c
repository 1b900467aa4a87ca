/* predict: `nnc eval` (test metrics of saved weights) and `nnc predict`
 * (the model's outputs for a data file), both in evaluation mode. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "draw.h"
#include "lower.h"
#include "outfile.h"
#include "session.h"
#include "show.h"

/* What eval and predict work with: the model, its compiled graphs and
 * weights, and the statistics a standardized model's inputs need. */
typedef struct {
  Front f;          /* the model */
  Session s;        /* its graphs and the checkpoint's weights */
  DataNorm norm;    /* the training set's statistics (nfeat 0 unless the model standardizes) */
} Evaluator;

/* The statistics from the checkpoint; a checkpoint written before nnc saved
 * them gets them from the training data again, as before. */
static bool open_norm(Evaluator *e, const Checkpoint *ck, const char *path) {
  const Model *m = e->f.model;
  if (!m->train.data.standardize || data_norm_from_ckpt(ck, e->s.nfeat, &e->norm)) return true;
  fprintf(stderr, "nnc: note: %s has no standardization statistics; computing them from the training data\n", path);
  Dataset train;
  char err[1024];
  if (!session_load_data(&e->s, &m->train.data, false, INT_MAX, &train, err, sizeof err)) {
    fprintf(stderr, "nnc: %s (needed for its standardization statistics)\n", err);
    return false;
  }
  data_norm_fit(&train, &e->norm);
  data_free(&train);
  return true;
}

/* Model + weights ready for evaluation graphs; false (message printed) on error. */
static bool evaluator_open(const Cli *c, Evaluator *e) {
  *e = (Evaluator){0};
  if (!front_load(&e->f, c->pos[0], c) ||
      !front_check_batch(&e->f, lower_has_batch(e->f.model) ? e->f.model->train.batch : 0))
    return false;
  const Model *m = e->f.model;
  const char *path = cli_get(c, "weights");
  if (!path) {
    fprintf(stderr, "nnc %s: --weights CHECKPOINT is required\n", c->command);
    return false;
  }
  char err[1024];
  if (!session_init(&e->s, m, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  if (!session_options(&e->s, c)) return false;
  if (m->ninputs == 0) {
    fprintf(stderr, "nnc %s: %s has no inputs to evaluate on\n", c->command, m->name);
    return false;
  }
  /* compiling one graph creates the slots the evaluation needs */
  if (!session_graph(&e->s, GRAPH_EVAL, m->train.batch, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  Checkpoint ck;
  if (!ckpt_read(path, NULL, 0, &ck, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  bool ok = session_load(&e->s, &ck, path, false) && open_norm(e, &ck, path);
  ckpt_free(&ck);
  return ok;
}

static void evaluator_close(Evaluator *e) {
  data_norm_free(&e->norm);
  session_free(&e->s);
  front_free(&e->f);
}

/* Loads spec (features only when asked: prediction data may have no
 * targets), standardized with the training set's statistics when the model
 * asks for it. */
static bool load_eval_data(const Evaluator *e, const DataSpec *spec, bool features_only, Dataset *out) {
  const Session *s = &e->s;
  char err[1024];
  bool ok = session_load_data(s, spec, features_only, INT_MAX, out, err, sizeof err);
  if (!ok) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  if (e->norm.nfeat) data_norm_apply(&e->norm, out);
  return true;
}

/* NAME=FILE,NAME=FILE: one IDX file per input (and target, with targets),
 * for a model whose source names them.  false with a message printed. */
static bool pairs_spec(const Evaluator *e, const char *opt, const char *arg, bool targets, DataSpec *spec) {
  const Model *m = e->f.model;
  char *list = arena_strndup(e->f.arena, arg, strlen(arg));
  spec->binds = NEW_ARRAY(e->f.arena, DataBind, m->ninputs + m->ntargets + 1);
  spec->nbinds = 0;
  for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
    char *eq = strchr(item, '=');
    const DataColumn *col = NULL;
    if (eq) *eq = '\0';
    for (int i = 0; eq && i < e->s.ncols; i++)
      if (strcmp(e->s.cols[i].name, item) == 0) col = &e->s.cols[i];
    if (!col || !eq[1]) {
      fprintf(stderr, "nnc %s: --%s takes NAME=FILE pairs naming the model's inputs%s; '%s' is not one\n",
              targets ? "eval" : "predict", opt, targets ? " and targets" : "", item);
      return false;
    }
    spec->binds[spec->nbinds++] = (DataBind){.name = col->name, .file = eq + 1, .first = -1, .last = -1};
  }
  for (int i = 0; i < e->s.ncols; i++) {
    bool fed = false;
    for (int k = 0; k < spec->nbinds; k++) fed |= strcmp(spec->binds[k].name, e->s.cols[i].name) == 0;
    if (!fed && (targets || !e->s.cols[i].target)) {
      fprintf(stderr, "nnc %s: --%s names no file for %s '%s' (NAME=FILE,NAME=FILE...)\n", targets ? "eval" : "predict", opt,
              e->s.cols[i].target ? "target" : "input", e->s.cols[i].name);
      return false;
    }
  }
  return true;
}

/* The data a command reads besides the train block (--data, --input): a
 * CSV file (gzipped or not) by its name, else IDX (an images file or a
 * prefix, as data.c reads idx paths), with the training data's scale and
 * target placement.  A model whose training source names what feeds each
 * input and target reads a CSV file by the same columns, and IDX files as
 * NAME=FILE pairs.  false with a message printed. */
static bool file_spec(const Evaluator *e, const char *opt, const char *path, bool targets, DataSpec *spec) {
  const Model *m = e->f.model;
  *spec = m->train.data;
  spec->images = spec->labels = NULL;
  spec->path = path;
  size_t n = strlen(path);
  bool csv = (n >= 4 && strcmp(path + n - 4, ".csv") == 0) || (n >= 7 && strcmp(path + n - 7, ".csv.gz") == 0);
  spec->format = csv ? DATA_CSV : DATA_IDX;
  if (strchr(path, '=')) {
    spec->format = DATA_IDX;
    spec->path = "";
    return pairs_spec(e, opt, path, targets, spec);
  }
  if (!m->train.data.nbinds || (csv && m->train.data.format == DATA_CSV)) return true;
  fprintf(stderr, "nnc %s: %s reads one IDX file per input%s: give --%s NAME=FILE,NAME=FILE... (%s)\n",
          targets ? "eval" : "predict", m->name,
          targets ? " and target" : "", opt, csv ? "its training source is IDX, so a CSV file names no columns" : path);
  return false;
}

/* --limit N keeps the first N samples (all of them without the option). */
static bool apply_limit(const Cli *c, Dataset *d) {
  long long limit = 0;
  if (!cli_int(c, "limit", 1, INT_MAX, &limit)) return false;
  if (limit > 0 && limit < d->n) d->n = (int)limit;
  return true;
}

/* "test loss L  accuracy A  (N samples)" and, for a classifier, the
 * confusion matrix with per-class precision, recall and F1; for a model of
 * several outputs, each judged output's accuracy and matrix under its
 * target's name. */
static bool evaluate_and_print(Session *s, const char *what, const Dataset *d, int batch) {
  Metrics r;
  int nh = s->nheads > 1 ? s->nheads : 1;
  Confusion *conf = xcalloc((size_t)nh, sizeof(Confusion));
  bool any = false;
  for (int h = 0; h < nh; h++) {
    const MetricSpec *ms = s->nheads > 1 ? &s->heads[h].metric : &s->metric;
    if (ms->kind != METRIC_NONE) confusion_init(&conf[h], ms->nclasses);
    any |= conf[h].k > 0;
  }
  char err[1024];
  bool ok = session_evaluate(s, d, batch, &r, any ? conf : NULL, err, sizeof err);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  if (ok) {
    printf("%s", what);
    session_print_metrics("", &r);
    printf("  (%lld sample%s)\n", (long long)r.n, r.n == 1 ? "" : "s");
  }
  for (int h = 0; h < nh; h++) {
    const SessionHead *hd = &s->heads[h];
    if (ok && conf[h].k && s->nheads > 1) printf("\n%s (output %s):\n", hd->target ? hd->target : hd->name, hd->name);
    if (ok && conf[h].k) confusion_print(stdout, &conf[h], s->nheads > 1 ? &hd->metric : &s->metric);
    confusion_free(&conf[h]);
  }
  free(conf);
  return ok;
}

int cmd_eval(const Cli *c) {
  Evaluator e;
  Dataset test = {0};
  int status = 1;
  long long batch = 0;
  if (!evaluator_open(c, &e)) goto done;
  const Model *m = e.f.model;
  batch = m->train.batch;
  if (!cli_int(c, "batch", 1, 1 << 20, &batch) || !front_check_batch(&e.f, (int)batch)) goto done;
  const char *data = cli_get(c, "data");
  if (!data && m->train.test.format == DATA_NONE) {
    fprintf(stderr, "%s: error: the train block names no test data (test = idx(...) or csv(...)); give a labelled "
            "file with --data FILE\n", c->pos[0]);
    goto done;
  }
  DataSpec spec = m->train.test;
  if (data && !file_spec(&e, "data", data, true, &spec)) goto done;
  if (!load_eval_data(&e, &spec, false, &test) || !apply_limit(c, &test)) goto done;
  status = evaluate_and_print(&e.s, data ? arena_printf(e.f.arena, "%s:", data) : "test", &test, (int)batch) ? 0 : 1;
done:
  data_free(&test);
  evaluator_close(&e);
  return status;
}

/* The probability of each output value: softmax of a class output,
 * sigmoid of each logit of a binary one. */
static void probabilities(const MetricSpec *ms, const float *row, double *p) {
  if (ms->kind == METRIC_BINARY) {
    for (int k = 0; k < ms->width; k++) p[k] = 1 / (1 + exp(-(double)row[k]));
    return;
  }
  double top = row[0], sum = 0;
  for (int k = 1; k < ms->width; k++) top = fmax(top, row[k]);
  for (int k = 0; k < ms->width; k++) sum += p[k] = exp((double)row[k] - top);
  for (int k = 0; k < ms->width; k++) p[k] /= sum;
}

/* One output of one sample: the class (and its name) of a classifier, then
 * with probs every class's probability; 0/1 and the probability per column
 * of a binary model; the output values of anything else.  No line end. */
static void print_prediction(FILE *out, const MetricSpec *ms, const float *row, int64_t width, bool probs) {
  double p[4096];
  if (ms->kind == METRIC_NONE || width > (int64_t)COUNT_OF(p)) {
    for (int64_t k = 0; k < width; k++) fprintf(out, k ? ",%.9g" : "%.9g", row[k]);
    return;
  }
  probabilities(ms, row, p);
  if (ms->kind == METRIC_BINARY) {
    for (int k = 0; k < ms->width; k++) fprintf(out, k ? ",%d" : "%d", metrics_predicted(ms, row, k));
    for (int k = 0; k < ms->width; k++) fprintf(out, ",%.6g", p[k]);
    return;
  }
  int best = metrics_predicted(ms, row, 0);
  fprintf(out, "%d", best);
  if (ms->names) fprintf(out, ",%s", ms->names[best]);
  for (int k = 0; probs && k < ms->width; k++) fprintf(out, ",%.6g", p[k]);
}

/* Runs the evaluation graph over d, handing each batch's graph (its
 * outputs) to the caller; false (message printed) if a graph fails to
 * compile. */
typedef void (*RowsFn)(void *ctx, const Compiled *g, int n, int first);

static bool run_outputs(Session *s, const Dataset *d, int B, RowsFn fn, void *ctx) {
  int *idx = xmalloc(sizeof(int) * (size_t)B);
  char err[1024];
  bool ok = true;
  for (int start = 0; start < d->n && ok; start += B) {
    int n = d->n - start < B ? d->n - start : B;
    Compiled *g = session_graph(s, GRAPH_EVAL, n, err, sizeof err);
    if (!(ok = g != NULL)) {
      fprintf(stderr, "nnc: %s\n", err);
      break;
    }
    for (int i = 0; i < n; i++) idx[i] = start + i;
    session_run(g, d, idx, n);
    fn(ctx, g, n, start);
  }
  free(idx);
  return ok;
}

/* Graph output name's rows and their width (floats per sample). */
static const float *output_rows(const Compiled *g, const char *name, int n, int64_t *width) {
  *width = shape_numel(ir_find_output(g->ir, name)->shape) / n;
  return jit_output(g->jit, name);
}

typedef struct {
  FILE *out;                  /* where the lines go */
  const Session *s;           /* the outputs */
  bool raw;                   /* --raw: the values, not classes */
  bool probs;                 /* --probs */
} LineWriter;

/* A line per sample: every output's prediction, outputs separated by ';'. */
static void write_lines(void *ctx, const Compiled *g, int n, int first) {
  (void)first;
  LineWriter *w = ctx;
  const Session *s = w->s;
  int nh = s->nheads > 1 ? s->nheads : 1;
  for (int r = 0; r < n; r++) {
    for (int h = 0; h < nh; h++) {
      int64_t width;
      const float *rows = output_rows(g, s->nheads > 1 ? s->heads[h].output : "output", n, &width);
      MetricSpec ms = s->nheads > 1 ? s->heads[h].metric : s->metric;
      if (w->raw) ms.kind = METRIC_NONE;
      if (h) fputc(';', w->out);
      print_prediction(w->out, &ms, rows + r * width, width, w->probs);
    }
    fputc('\n', w->out);
  }
}

/* What predict needs before any work: an input, an output to predict, and
 * --probs only for a model whose output has probabilities. */
static bool predict_args(const Cli *c, const Model *m, const Session *s) {
  if (!cli_get(c, "input")) {
    fprintf(stderr, "nnc predict: --input DATA is required (a CSV file, an IDX images file or an IDX prefix)\n");
    return false;
  }
  if (!m->output) {
    fprintf(stderr, "%s: error: the model has no output to predict (add `output NAME`)\n", c->pos[0]);
    return false;
  }
  if (cli_flag(c, "probs") && cli_flag(c, "raw")) {
    fprintf(stderr, "nnc predict: --raw prints the output values and --probs probabilities; give one of them\n");
    return false;
  }
  if (cli_flag(c, "probs") && s->metric.kind == METRIC_NONE) {
    fprintf(stderr, "nnc predict: --probs needs a classifier (a cross_entropy or binary_cross_entropy loss); %s's "
            "output is not read as classes\n", m->name);
    return false;
  }
  return true;
}

/* ---- --show N: a picture instead of lines ---- */

typedef struct {
  float *rows;        /* every sample's output row */
  int64_t width;      /* floats per row */
} Collected;

static void collect_rows(void *ctx, const Compiled *g, int n, int first) {
  Collected *c = ctx;
  int64_t width;
  const float *rows = output_rows(g, "output", n, &width);
  c->rows = xrealloc(c->rows, sizeof(float) * (size_t)width * (size_t)(first + n));
  memcpy(c->rows + (size_t)first * (size_t)width, rows, sizeof(float) * (size_t)width * (size_t)n);
  c->width = width;
}

/* The true class of each sample when the data has labels, else NULL. */
static int *true_classes(const MetricSpec *ms, const Dataset *d) {
  if (ms->kind == METRIC_NONE || !d->y) return NULL;
  int *t = xmalloc(sizeof(int) * (size_t)d->n);
  for (int i = 0; i < d->n; i++)
    t[i] = metrics_truth(ms, d->y + (size_t)i * (size_t)d->ntarget, d->labels ? d->labels[i] : 0, 0);
  return t;
}

/* The data for a picture: with labels when the file has them (so wrong
 * predictions can be marked), else the features alone; the first n samples. */
static bool load_shown(const Evaluator *e, const DataSpec *spec, int n, Dataset *d) {
  const Session *s = &e->s;
  char err[1024];
  bool labelled = s->ntarget > 0 && session_load_data(s, spec, false, n, d, err, sizeof err);
  if (labelled) data_free(d);
  if (!load_eval_data(e, spec, !labelled, d)) return false;
  if (d->n > n) d->n = n;
  data_expand(d);   /* the picture reads floats */
  return true;
}

/* nnc predict --show N -o grid.png: the first N samples drawn with their
 * predictions (or reconstructions). */
static bool show_predictions(const Cli *c, Evaluator *e, const DataSpec *spec) {
  Session *s = &e->s;
  const Model *m = e->f.model;
  long long n = 0;
  const char *path = cli_get(c, "output");
  int h, w;
  char err[1024];
  if (!cli_int(c, "show", 1, 1000, &n)) return false;
  if (!path) {
    fprintf(stderr, "nnc predict: --show draws a picture: give its name with -o NAME.png (or .svg, .pdf)\n");
    return false;
  }
  if (!canvas_name_ok(path, err, sizeof err)) {
    fprintf(stderr, "nnc predict: %s\n", err);
    return false;
  }
  if (m->ninputs > 1 || s->nheads > 1) {
    fprintf(stderr, "nnc predict: --show draws models of one input and one output; %s has %d inputs and %d outputs\n",
            m->name, m->ninputs, s->nheads);
    return false;
  }
  const ModelValue *x = &m->inputs[0];
  if (!show_image_shape(x->shape.dim, x->shape.ndim, &h, &w)) {
    fprintf(stderr, "nnc predict: --show draws image inputs; %s is %s, not [H, W], [1, H, W] or a square number of values\n",
            x->name, shape_str(x->shape, (char[96]){0}));
    return false;
  }
  Dataset d = {0};
  Collected out = {0};
  bool ok = load_shown(e, spec, (int)n, &d) && run_outputs(s, &d, m->train.batch, collect_rows, &out);
  int *truth = ok ? true_classes(&s->metric, &d) : NULL;
  bool recon = s->metric.kind == METRIC_NONE && out.width == s->nfeat;
  ShowGrid g = {d.n, h, w, d.x, recon ? out.rows : NULL, out.rows, (int)out.width, truth, &s->metric};
  char title[512];
  int right = 0;
  for (int i = 0; truth && i < d.n; i++)
    right += truth[i] == metrics_predicted(&s->metric, out.rows + (size_t)i * (size_t)out.width, 0);
  const char *base = strrchr(spec->path, '/') ? strrchr(spec->path, '/') + 1 : spec->path;
  if (truth) snprintf(title, sizeof title, "%s on %s: %d of %d right", m->name, base, right, d.n);
  else snprintf(title, sizeof title, "%s on %s", m->name, base);
  if (ok && !(ok = show_write(&g, path, title, err, sizeof err))) fprintf(stderr, "nnc: %s\n", err);
  free(truth);
  free(out.rows);
  data_free(&d);
  return ok;
}

int cmd_predict(const Cli *c) {
  Evaluator e;
  Dataset in = {0};
  int status = 1;
  FILE *out = stdout;
  char *text = NULL;   /* with --output: the predictions, written whole at the end */
  size_t text_len = 0;
  char err[1024];
  if (!evaluator_open(c, &e) || !predict_args(c, e.f.model, &e.s)) goto done;
  const Model *m = e.f.model;
  const char *output = cli_get(c, "output");
  if (output && !outfile_check(output, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    goto done;
  }
  DataSpec spec;
  if (!file_spec(&e, "input", cli_get(c, "input"), false, &spec)) goto done;
  const char *read[] = {c->pos[0], cli_get(c, "weights"), spec.path, spec.images, spec.labels};
  for (int i = 0; output && i < (int)COUNT_OF(read) + spec.nbinds; i++) {
    const char *r = i < (int)COUNT_OF(read) ? read[i] : spec.binds[i - (int)COUNT_OF(read)].file;
    if (r && outfile_same(output, r)) {
      fprintf(stderr, "nnc predict: --output %s would replace %s, which it reads; give it another name\n", output, r);
      goto done;
    }
  }
  if (cli_get(c, "show")) {
    status = show_predictions(c, &e, &spec) ? 0 : 1;
    goto done;
  }
  if (!load_eval_data(&e, &spec, true, &in) || !apply_limit(c, &in)) goto done;
  if (output && !(out = open_memstream(&text, &text_len))) die("open_memstream failed");
  LineWriter w = {out, &e.s, cli_flag(c, "raw"), cli_flag(c, "probs")};
  if (run_outputs(&e.s, &in, m->train.batch, write_lines, &w)) status = 0;
done:
  if (out != stdout) {
    fclose(out);
    if (status == 0 && !outfile_write(output, text, text_len, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      status = 1;
    }
  }
  free(text);
  data_free(&in);
  evaluator_close(&e);
  return status;
}
