/* session: compiled graphs sharing one store of parameters and state. */
#include "session.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"
#include "pipeline.h"

/* Adds the live PARAM/STATE leaves of g to the store, in creation order (the
 * order the code generator lists them, and so the order `nnc compile` gives
 * its state block).  eval: g is an evaluation graph, whose state is part of
 * the model. */
static void collect_leaves(Store *st, const Model *m, const IrGraph *g, bool eval) {
  bool *live = ir_live(g);
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.items[i];
    if (!live[i] || (n->op != OP_PARAM && n->op != OP_STATE)) continue;
    Tensor *t = store_add(st, n);
    t->model_state |= eval && n->op == OP_STATE;
    t->hyper = optim_is_hyper(m, n->name);
  }
  free(live);
}

/* Where each input and target sits in a Dataset row, and the outputs the
 * session judges. */
static void session_layout(Session *s, const Model *m) {
  s->cols = xcalloc((size_t)(m->ninputs + m->ntargets) + 1, sizeof(DataColumn));
  for (int i = 0; i < m->ninputs + m->ntargets; i++) {
    bool target = i >= m->ninputs;
    const ModelValue *v = target ? &m->targets[i - m->ninputs] : &m->inputs[i];
    int width = v->nclasses > 0 ? v->nclasses : (int)shape_numel(v->shape), *at = target ? &s->ntarget : &s->nfeat;
    s->cols[s->ncols++] = (DataColumn){.name = v->name, .target = target, .offset = *at, .width = width,
                                       .nclasses = v->nclasses};
    *at += width;
  }
  if (m->ntargets == 1) s->nclasses = m->targets[0].nclasses;
  s->metric = metrics_spec(m);
  s->heads = xcalloc((size_t)m->noutputs + 1, sizeof(SessionHead));
  for (int i = 0; i < m->noutputs && i < SESSION_MAX_HEADS; i++) {
    const ModelOutput *o = &m->outputs[i];
    s->heads[s->nheads++] = (SessionHead){.output = lower_output_name(m, i, s->arena), .name = o->name,
                                          .target = o->target >= 0 ? m->targets[o->target].name : NULL,
                                          .metric = i == 0 ? s->metric : metrics_output_spec(m, i)};
  }
}

bool session_init(Session *s, const Model *m, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  *s = (Session){.model = m, .arena = arena_new(), .threads = pool_default_threads()};
  session_layout(s, m);
  /* the train step first: its leaves come first in the store, as they always
   * have, so a seed draws the same weights as before */
  int batch = lower_has_batch(m) ? m->train.batch : 0;
  collect_leaves(&s->store, m, pipeline_graph(m, s->arena, PIPE_TRAIN, batch, false), false);
  collect_leaves(&s->store, m, pipeline_graph(m, s->arena, PIPE_FORWARD, batch, false), true);
  store_alloc(&s->store);
  return true;
}

bool session_load_data(const Session *s, const DataSpec *spec, bool features_only, int max_samples, Dataset *out,
                       char *err, size_t errlen) {
  DataSpec cached = *spec;
  cached.cache = !s->no_cache;
  spec = &cached;
  if (spec->nbinds)
    return data_load_columns(spec, s->cols, s->ncols, features_only, max_samples, out, err, errlen);
  if (!features_only) return data_load_first(spec, s->nfeat, s->nclasses, s->ntarget, max_samples, out, err, errlen);
  if (!data_load_features(spec, s->nfeat, s->nclasses > 0 ? 1 : s->ntarget, out, err, errlen)) return false;
  if (max_samples < out->n) out->n = max_samples;
  return true;
}

void session_free(Session *s) {
  for (int i = 0; i < s->ngraphs; i++) {
    Compiled *c = s->graphs[i];
    jit_free(c->jit);
    for (int k = 0; k < c->nfeeds; k++) free(c->feeds[k].buf);
    free(c->feeds);
    free(c);
  }
  free(s->graphs);
  free(s->cols);
  free(s->heads);
  store_free(&s->store);
  pool_free(s->pool);
  target_free(&s->target);
  arena_free(s->arena);
  *s = (Session){0};
}

static bool is_target(const Model *m, const char *name) {
  for (int i = 0; i < m->ntargets; i++)
    if (strcmp(m->targets[i].name, name) == 0) return true;
  return false;
}

/* The store's tensor a leaf name stands for, and the element the leaf
 * starts at: "NAME@FIRST" is a piece of NAME from element FIRST on
 * (lower_update_slice).  NULL when there is none. */
static Tensor *leaf_tensor(const Session *s, const char *name, int64_t *first) {
  const char *mark = strrchr(name, LOWER_PIECE_MARK[0]);
  *first = 0;
  if (!mark) return store_find(&s->store, name);
  char base[512];
  if ((size_t)(mark - name) >= sizeof base) return NULL;
  snprintf(base, sizeof base, "%.*s", (int)(mark - name), name);
  *first = strtoll(mark + 1, NULL, 10);
  return store_find(&s->store, base);
}

/* The gradient a "grad NAME" leaf of a split train step carries
 * (lower_grad_leaf): NAME's place in store.grad.  NULL for any other leaf
 * (names in the language have no spaces). */
static float *grad_buffer(const Session *s, const IrNode *leaf) {
  size_t len = strlen(LOWER_GRAD_PREFIX);
  if (strncmp(leaf->name, LOWER_GRAD_PREFIX, len) != 0) return NULL;
  int64_t first;
  Tensor *t = leaf_tensor(s, leaf->name + len, &first);
  return t && t->op == OP_PARAM ? store_grad(&s->store, t) + first : NULL;
}

/* Where a PARAM, STATE or gradient leaf lives in the store. */
static float *store_leaf(const Session *s, const IrNode *leaf) {
  float *grad = grad_buffer(s, leaf);
  if (grad) return grad;
  int64_t first;
  Tensor *t = leaf_tensor(s, leaf->name, &first);
  if (!t) die("session: leaf %s is not in the store", leaf->name);
  return store_data(&s->store, t) + first;
}

/* The buffer leaf reads: its place in the store, or (INPUT) a feed of the
 * graph, created on first sight. */
static float *leaf_buffer(Session *s, Compiled *c, const IrNode *leaf) {
  if (leaf->op != OP_INPUT || grad_buffer(s, leaf)) return store_leaf(s, leaf);
  c->feeds = xrealloc(c->feeds, sizeof(Feed) * (size_t)(c->nfeeds + 1));
  Feed *f = &c->feeds[c->nfeeds++];
  int64_t numel = shape_numel(leaf->shape);
  *f = (Feed){.name = leaf->name, .buf = store_alloc_floats(numel), .width = c->batch ? numel / c->batch : numel,
              .target = is_target(s->model, leaf->name)};
  return f->buf;
}

bool session_options(Session *s, const Cli *c) {
  long long threads = s->threads;
  if (!cli_int(c, "threads", 1, 1024, &threads)) return false;
  s->threads = (int)threads;
  s->no_cache = cli_flag(c, "no-cache");
  return true;
}

/* The host target and the thread pool, made once per session. */
static bool session_machine(Session *s, char *err, size_t errlen) {
  if (!s->target.triple && !target_host(&s->target, err, errlen)) return false;
  if (!s->pool && !(s->pool = pool_new(s->threads, err, errlen))) return false;
  return true;
}

static Compiled *find_graph(const Session *s, GraphWant w) {
  for (int i = 0; i < s->ngraphs; i++)
    if (s->graphs[i]->kind == w.kind && s->graphs[i]->batch == w.batch && s->graphs[i]->first == w.first &&
        s->graphs[i]->total == w.total && s->graphs[i]->lo == w.lo && s->graphs[i]->hi == w.hi)
      return s->graphs[i];
  return NULL;
}

static Compiled *add_graph(Session *s, GraphWant w, IrGraph *g, JitGraph *j) {
  s->graphs = xrealloc(s->graphs, sizeof(Compiled *) * (size_t)(s->ngraphs + 1));
  Compiled *c = s->graphs[s->ngraphs++] = xmalloc(sizeof(Compiled));
  *c = (Compiled){.kind = w.kind, .batch = g->batch, .first = w.first, .total = w.total, .lo = w.lo, .hi = w.hi,
                  .ir = g, .jit = j};
  for (int i = 0; i < jit_nleaves(j); i++) jit_bind(j, i, leaf_buffer(s, c, jit_leaf(j, i)));
  return c;
}

static const PipeGraph pipe_of[] = {
    [GRAPH_TRAIN] = PIPE_TRAIN, [GRAPH_EVAL] = PIPE_FORWARD, [GRAPH_GRAD_STEP] = PIPE_GRAD_STEP,
    [GRAPH_UPDATE] = PIPE_UPDATE};

/* One graph to compile, on whichever thread takes it. */
typedef struct {
  GraphWant want;
  IrGraph *g;          /* lowered on the calling thread (the arena is not shared) */
  JitGraph *j;         /* the result, or NULL ... */
  char err[1024];      /* ... and why */
} CompileJob;

typedef struct {
  const Session *s;
  CompileJob *jobs;
  int njobs;
  atomic_int next;     /* the next job to take */
} CompileWork;

static void *compile_worker(void *arg) {
  CompileWork *w = arg;
  const Session *s = w->s;
  for (int i; (i = atomic_fetch_add(&w->next, 1)) < w->njobs;) {
    JitOptions o = {.opt_level = 3, .target = &s->target, .pool = s->pool, .no_cache = s->no_cache};
    w->jobs[i].j = jit_compile(w->jobs[i].g, &o, w->jobs[i].err, sizeof w->jobs[i].err);
  }
  return NULL;
}

static bool same_want(GraphWant a, GraphWant b) {
  return a.kind == b.kind && a.batch == b.batch && a.first == b.first && a.total == b.total && a.lo == b.lo &&
         a.hi == b.hi;
}

/* w with what its kind ignores set as find_graph compares it. */
static GraphWant want_normalized(GraphWant w) {
  if (w.kind != GRAPH_GRAD_STEP) w.first = 0;
  if (w.kind != GRAPH_GRAD_STEP || w.total == 0) w.total = w.batch;
  if (w.kind != GRAPH_UPDATE_SLICE) w.lo = w.hi = 0;
  return w;
}

/* The pieces of the parameters that lie in store.param[lo..hi). */
static IrGraph *slice_graph(const Session *s, int64_t lo, int64_t hi) {
  const Model *m = s->model;
  LowerPiece *piece = NEW_ARRAY(s->arena, LowerPiece, m->nparams + 1);
  for (int i = 0; i < m->nparams; i++) {
    const Tensor *t = store_find(&s->store, m->params[i].name);
    int64_t a = t->offset > lo ? t->offset : lo, b = t->offset + t->numel < hi ? t->offset + t->numel : hi;
    piece[i] = b > a ? (LowerPiece){a - t->offset, b - a} : (LowerPiece){0, 0};
  }
  return pipeline_update_slice(m, s->arena, piece);
}

bool session_compile(Session *s, const GraphWant *want, int n, char *err, size_t errlen) {
  if (!session_machine(s, err, errlen)) return false;
  CompileWork w = {.s = s, .jobs = xcalloc((size_t)n + 1, sizeof(CompileJob))};
  for (int i = 0; i < n; i++) {
    GraphWant wi = want_normalized(want[i]);
    bool seen = find_graph(s, wi) != NULL;
    for (int k = 0; k < i && !seen; k++) seen = same_want(w.jobs[k].want, wi);
    if (seen) continue;
    CompileJob *job = &w.jobs[w.njobs++];
    job->want = wi;
    job->g = wi.kind == GRAPH_UPDATE_SLICE
                 ? slice_graph(s, wi.lo, wi.hi)
                 : pipeline_shard_graph(s->model, s->arena, pipe_of[wi.kind], wi.batch, wi.first, wi.total, false);
  }
  int helpers = (s->threads < w.njobs ? s->threads : w.njobs) - 1;
  pthread_t *tid = xcalloc((size_t)(helpers > 0 ? helpers : 0) + 1, sizeof(pthread_t));
  int started = 0;
  while (started < helpers && pthread_create(&tid[started], NULL, compile_worker, &w) == 0) started++;
  compile_worker(&w);
  for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
  free(tid);
  bool ok = true;
  for (int i = 0; i < w.njobs; i++) {
    if (w.jobs[i].j)
      add_graph(s, w.jobs[i].want, w.jobs[i].g, w.jobs[i].j);
    else if (ok)
      ok = errorf(err, errlen, "%s", w.jobs[i].err);
  }
  free(w.jobs);
  return ok;
}

Compiled *session_shard_graph(Session *s, GraphKind kind, int batch, int first, int total, char *err, size_t errlen) {
  GraphWant want = want_normalized((GraphWant){.kind = kind, .batch = batch, .first = first, .total = total});
  if (!find_graph(s, want) && !session_compile(s, &want, 1, err, errlen)) return NULL;
  return find_graph(s, want);
}

Compiled *session_update_slice(Session *s, int64_t lo, int64_t hi, char *err, size_t errlen) {
  GraphWant want = want_normalized((GraphWant){.kind = GRAPH_UPDATE_SLICE, .lo = lo, .hi = hi});
  if (!find_graph(s, want) && !session_compile(s, &want, 1, err, errlen)) return NULL;
  return find_graph(s, want);
}

Compiled *session_graph(Session *s, GraphKind kind, int batch, char *err, size_t errlen) {
  return session_shard_graph(s, kind, batch, 0, batch, err, errlen);
}

void session_gather(Compiled *c, const Dataset *d, const int *idx, int n) {
  if (!d || n <= 0) return;
  if (d->cols) {   /* each feed from the column of its name */
    for (int k = 0; k < c->nfeeds; k++) {
      const DataColumn *col = data_column(d, c->feeds[k].name);
      if (col) data_gather_column(d, col, idx, n, c->feeds[k].buf);
    }
    return;
  }
  float *x = NULL, *y = NULL;
  for (int k = 0; k < c->nfeeds; k++) {
    if (c->feeds[k].target) y = c->feeds[k].buf;
    else x = c->feeds[k].buf;
  }
  data_gather(d, idx, n, x, y);
}

void session_run(Compiled *c, const Dataset *d, const int *idx, int n) {
  session_gather(c, d, idx, n);
  jit_run(c->jit);
}

/* Adds head h's judgements of the batch's outputs out to *m. */
static void judge_head(const Session *s, int h, const float *out, const Dataset *d, const int *idx, int n,
                       Metrics *m) {
  const MetricSpec *ms = &s->heads[h].metric;
  const DataColumn *col = d->cols && s->heads[h].target ? data_column(d, s->heads[h].target) : NULL;
  int offset = col ? col->offset : 0;
  if (d->cols && !col) return;   /* prediction data without this target */
  Confusion *conf = m->confusion ? &m->confusion[h] : NULL;
  int64_t *correct = h == 0 ? &m->correct : &m->head_correct[h];
  for (int r = 0; r < n; r++) {
    const float *row = out + (int64_t)r * ms->width, *y = d->y + (int64_t)idx[r] * d->ntarget + offset;
    int label = d->labels ? d->labels[idx[r]] : ms->kind == METRIC_CLASS ? metrics_predicted(ms, y, 0) : 0;
    for (int j = 0; j < ms->per_sample; j++) {
      int truth = metrics_truth(ms, y, label, j), predicted = metrics_predicted(ms, row, j);
      *correct += truth == predicted;
      if (conf && conf->k) conf->count[truth * conf->k + predicted]++;
    }
  }
}

void session_accumulate(const Session *s, const Compiled *c, const Dataset *d, const int *idx, int n,
                        Metrics *m) {
  const float *loss = jit_output(c->jit, "loss");
  m->loss += (double)loss[0] * (n > 0 ? n : 1);
  m->n += n > 0 ? n : 1;
  if (!d || !d->y) return;
  for (int h = 0; h < s->nheads; h++) {
    const float *out = jit_output(c->jit, s->heads[h].output);
    if (s->heads[h].metric.kind != METRIC_NONE && out) judge_head(s, h, out, d, idx, n, m);
  }
}

void session_finish_metrics(const Session *s, Metrics *m) {
  if (m->n) m->loss /= (double)m->n;
  bool judged = s->metric.kind != METRIC_NONE && m->n;
  m->accuracy = judged ? (double)m->correct / ((double)m->n * s->metric.per_sample) : NAN;
  m->nheads = s->nheads > 1 ? s->nheads : 0;
  for (int h = 0; h < m->nheads; h++) {
    const MetricSpec *ms = &s->heads[h].metric;
    m->head[h] = s->heads[h].target ? s->heads[h].target : s->heads[h].name;
    if (h == 0) m->head_correct[h] = m->correct;
    m->head_accuracy[h] = ms->kind != METRIC_NONE && m->n ? (double)m->head_correct[h] / ((double)m->n * ms->per_sample) : NAN;
  }
}

bool session_evaluate(Session *s, const Dataset *d, int batch, Metrics *out, Confusion *confusion, char *err,
                      size_t errlen) {
  *out = (Metrics){.confusion = confusion};
  bool ok = session_evaluate_range(s, d, 0, d->n, batch, out, err, errlen);
  session_finish_metrics(s, out);
  return ok;
}

bool session_evaluate_range(Session *s, const Dataset *d, int lo, int hi, int batch, Metrics *out, char *err,
                            size_t errlen) {
  int *idx = xmalloc(sizeof(int) * (size_t)(batch > 0 ? batch : 1));
  bool ok = true;
  for (int start = lo; start < hi && ok; start += batch) {
    int n = hi - start < batch ? hi - start : batch;
    Compiled *c = session_graph(s, GRAPH_EVAL, n, err, errlen);
    ok = c != NULL;
    if (!ok) break;
    for (int i = 0; i < n; i++) idx[i] = start + i;
    session_run(c, d, idx, n);
    session_accumulate(s, c, d, idx, n, out);
  }
  free(idx);
  return ok;
}

/* Whether every value is a finite float (doubles beyond FLT_MAX overflowed in
 * the compiled float code even if the double evaluator kept them). */
static bool all_finite(const double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(v[i]) <= FLT_MAX)) return false;
  return true;
}

/* The floats leaf n of c reads: its feed or its store tensor. */
static const float *leaf_values(Session *s, const Compiled *c, const IrNode *n) {
  if (n->op != OP_INPUT || grad_buffer(s, n)) return store_leaf(s, n);
  for (int k = 0; k < c->nfeeds; k++)
    if (strcmp(c->feeds[k].name, n->name) == 0) return c->feeds[k].buf;
  die("session: no feed for input %s", n->name);
}

static void blame(const IrNode *n, char *buf, size_t len) {
  const char *label = n->label ? n->label : "?";
  if (n->op == OP_PARAM || n->op == OP_STATE || n->op == OP_INPUT)
    snprintf(buf, len, "%s %s already holds non-finite values", op_info[n->op].name, n->name);
  else if (n->loc.file)
    snprintf(buf, len, "first non-finite value: %s of '%s' at %s:%d", op_info[n->op].name, label, n->loc.file,
             n->loc.line);
  else
    snprintf(buf, len, "first non-finite value: %s of '%s'", op_info[n->op].name, label);
}

const IrNode *session_explain_nonfinite(Session *s, const Compiled *c, char *buf, size_t len) {
  const IrGraph *g = c->ir;
  Arena *scratch = arena_new();
  double **vals = NEW_ARRAY(scratch, double *, g->nodes.len);
  bool *live = ir_live(g);
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.items[i];
    if (!live[i] || (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE)) continue;
    const float *src = leaf_values(s, c, n);
    int64_t numel = shape_numel(n->shape);
    vals[i] = NEW_ARRAY(scratch, double, numel);
    for (int64_t k = 0; k < numel; k++) vals[i][k] = src[k];
  }
  ir_eval(g, vals, scratch);
  snprintf(buf, len, "no single value could be blamed (the double-precision evaluator stayed finite)");
  const IrNode *culprit = NULL;
  for (int i = 0; i < g->nodes.len && !culprit; i++) {
    IrNode *n = g->nodes.items[i];
    if (live[i] && vals[i] && !all_finite(vals[i], shape_numel(n->shape))) culprit = n;
  }
  if (culprit) blame(culprit, buf, len);
  free(live);
  arena_free(scratch);
  return culprit;
}

bool session_load(Session *s, const Checkpoint *c, const char *path, bool everything) {
  for (int i = 0; i < s->store.n; i++) {
    const Tensor *t = &s->store.t[i];
    if (!everything && t->op == OP_STATE && !t->model_state) continue;
    const CkptTensor *ct = ckpt_find(c, t->name);
    if (!ct && t->hyper) continue;   /* a version 1 file: the hyperparameters were the model's */
    if (!ct && strcmp(c->model, s->model->name) != 0) {
      fprintf(stderr, "nnc: %s: is a checkpoint of model '%s', not of '%s' (it has no tensor '%s')\n", path,
              c->model, s->model->name, t->name);
      return false;
    }
    if (!ct) {
      fprintf(stderr, "nnc: %s: has no tensor '%s' (is it a checkpoint of model %s?)\n", path, t->name,
              s->model->name);
      return false;
    }
    if ((ct->kind == CKPT_PARAM) != (t->op == OP_PARAM)) {
      fprintf(stderr, "nnc: %s: tensor '%s' is a %s, the model's is a %s\n", path, t->name,
              ct->kind == CKPT_PARAM ? "param" : "state", t->op == OP_PARAM ? "param" : "state");
      return false;
    }
    if (!shape_eq(ct->shape, t->shape)) {
      char a[96], b[96];
      fprintf(stderr, "nnc: %s: tensor '%s' has shape %s, the model expects %s", path, t->name,
              shape_str(ct->shape, a), shape_str(t->shape, b));
      if (strcmp(c->model, s->model->name) != 0)
        fprintf(stderr, " (the file is a checkpoint of model '%s', not of '%s')", c->model, s->model->name);
      fputc('\n', stderr);
      return false;
    }
    memcpy(store_data(&s->store, t), ct->data, sizeof(float) * (size_t)t->numel);
  }
  return true;
}

/* Losses as people read them: four decimals, or three significant digits
 * once they are below 0.01 (a converged regression, XOR) or at 1e5 and
 * above (a diverging run: 1.686e+13, not 16862114858589.1641). */
const char *session_loss_str(double v, char *buf) {
  snprintf(buf, 32, (fabs(v) >= 0.01 && fabs(v) < 1e5) || v == 0 ? "%.4f" : "%.3e", v);
  return buf;
}

void session_print_metrics(const char *what, const Metrics *m) {
  char l[32];
  printf("%s%s loss %s", *what ? "  " : "", what, session_loss_str(m->loss, l));
  if (m->nheads == 0 && !isnan(m->accuracy)) printf("  accuracy %.4f", m->accuracy);
  for (int h = 0; h < m->nheads; h++)
    if (!isnan(m->head_accuracy[h])) printf("  %s accuracy %.4f", m->head[h], m->head_accuracy[h]);
}
