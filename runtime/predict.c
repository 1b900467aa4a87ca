/* predict: `nnc eval` (test metrics of saved weights) and `nnc predict`
 * (the model's outputs for a data file), both in evaluation mode. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "outfile.h"
#include "session.h"

/* Model + weights ready for evaluation graphs; false (message printed) on error. */
static bool open_weights(const Cli *c, Front *f, Session *s) {
  if (!front_load(f, c->pos[0], c)) return false;
  const char *path = cli_get(c, "weights");
  if (!path) {
    fprintf(stderr, "nnc %s: --weights CHECKPOINT is required\n", c->command);
    return false;
  }
  char err[1024];
  if (!session_init(s, f->model, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  if (!session_options(s, c)) return false;
  if (f->model->ninputs == 0) {
    fprintf(stderr, "nnc %s: %s has no inputs to evaluate on\n", c->command, f->model->name);
    return false;
  }
  /* compiling one graph creates the slots the evaluation needs */
  if (!session_graph(s, GRAPH_EVAL, f->model->train.batch, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  Checkpoint ck;
  if (!ckpt_read(path, NULL, 0, &ck, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  bool ok = session_load(s, &ck, path, false);
  ckpt_free(&ck);
  return ok;
}

/* Loads spec (features only when asked: prediction data may have no
 * targets), standardized with the training set's statistics when the model
 * asks for it. */
static bool load_eval_data(const Session *s, const Model *m, const DataSpec *spec, bool features_only,
                           Dataset *out) {
  char err[1024];
  int label_cols = s->nclasses > 0 ? 1 : s->ntarget;
  bool ok = features_only ? data_load_features(spec, s->nfeat, label_cols, out, err, sizeof err)
                          : data_load(spec, s->nfeat, s->nclasses, s->ntarget, out, err, sizeof err);
  if (!ok) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  if (m->train.data.standardize) {
    Dataset train;
    if (!data_load(&m->train.data, s->nfeat, s->nclasses, s->ntarget, &train, err, sizeof err)) {
      fprintf(stderr, "nnc: %s (needed for its standardization statistics)\n", err);
      return false;
    }
    DataNorm norm;
    data_norm_fit(&train, &norm);
    data_norm_apply(&norm, out);
    data_norm_free(&norm);
    data_free(&train);
  }
  return true;
}

int cmd_eval(const Cli *c) {
  Front f;
  Session s = {0};
  Dataset test = {0};
  int status = 1;
  long long batch = 0;
  if (!open_weights(c, &f, &s)) goto done;
  const Model *m = f.model;
  batch = m->train.batch;
  if (!cli_int(c, "batch", 1, 1 << 20, &batch)) goto done;
  if (m->train.test.format == DATA_NONE) {
    fprintf(stderr, "%s: error: the train block names no test data (test = idx(...) or csv(...))\n", c->pos[0]);
    goto done;
  }
  if (!load_eval_data(&s, m, &m->train.test, false, &test)) goto done;
  Metrics r;
  char err[1024];
  if (!session_evaluate(&s, &test, (int)batch, &r, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    goto done;
  }
  printf("test");
  session_print_metrics("", &r);
  printf("  (%lld samples)\n", (long long)r.n);
  status = 0;
done:
  data_free(&test);
  session_free(&s);
  front_free(&f);
  return status;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

int cmd_predict(const Cli *c) {
  Front f;
  Session s = {0};
  Dataset in = {0};
  int status = 1;
  FILE *out = stdout;
  char *text = NULL;   /* with --output: the predictions, written whole at the end */
  size_t text_len = 0;
  int *idx = NULL;
  char err[1024];
  if (!open_weights(c, &f, &s)) goto done;
  const Model *m = f.model;
  const char *input = cli_get(c, "input");
  if (!input) {
    fprintf(stderr, "nnc predict: --input DATA is required (a CSV file, an IDX images file or an IDX prefix)\n");
    goto done;
  }
  if (!m->output) {
    fprintf(stderr, "%s: error: the model has no output to predict (add `output NAME`)\n", c->pos[0]);
    goto done;
  }
  /* The training data's scale and target placement, another file.  The
   * format comes from the name: a CSV file (gzipped or not), else IDX (an
   * images file or a prefix, as data.c reads idx paths). */
  DataSpec spec = m->train.data;
  spec.images = spec.labels = NULL;
  spec.path = input;
  spec.format = ends_with(input, ".csv") || ends_with(input, ".csv.gz") ? DATA_CSV : DATA_IDX;
  const char *output = cli_get(c, "output");
  if (output && !outfile_check(output, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    goto done;
  }
  if (!load_eval_data(&s, m, &spec, true, &in)) goto done;
  if (output && !(out = open_memstream(&text, &text_len))) die("open_memstream failed");
  int B = m->train.batch;
  idx = xmalloc(sizeof(int) * (size_t)B);
  for (int start = 0; start < in.n; start += B) {
    int n = in.n - start < B ? in.n - start : B;
    Compiled *g = session_graph(&s, GRAPH_EVAL, n, err, sizeof err);
    if (!g) {
      fprintf(stderr, "nnc: %s\n", err);
      goto done;
    }
    for (int i = 0; i < n; i++) idx[i] = start + i;
    session_run(g, &in, idx, n);
    const IrNode *o = ir_find_output(g->ir, "output");
    int64_t width = shape_numel(o->shape) / n;
    const float *v = jit_output(g->jit, "output");
    for (int r = 0; r < n; r++) {
      const float *row = v + r * width;
      if (s.nclasses > 0) {
        int best = 0;
        for (int k = 1; k < width; k++)
          if (row[k] > row[best]) best = k;
        fprintf(out, "%d\n", best);
      } else {
        for (int k = 0; k < width; k++) fprintf(out, k ? ",%.9g" : "%.9g", row[k]);
        fputc('\n', out);
      }
    }
  }
  status = 0;
done:
  if (out != stdout) {
    fclose(out);
    if (status == 0 && !outfile_write(cli_get(c, "output"), text, text_len, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      status = 1;
    }
  }
  free(text);
  free(idx);
  data_free(&in);
  session_free(&s);
  front_free(&f);
  return status;
}
