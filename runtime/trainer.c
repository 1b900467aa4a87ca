/* trainer: the training loop's state and pieces (see trainer.h).
 *
 * Per epoch: a seeded shuffle, mini-batches through the compiled train step
 * (the last partial batch through a step compiled for its size), training
 * metrics from the step's own outputs, then validation in evaluation mode and
 * early stopping.  A copy of the store taken at the epoch's start lets a
 * non-finite loss be explained: the weights go back, the steps before it are
 * replayed (the generated code is deterministic), and the failing step's IR
 * is evaluated in double precision from exactly the values it saw.
 */
#include "trainer.h"

#include "lower.h"
#include "lr_schedule.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Adam's moments fill with denormals after about an epoch; flushing them to
 * zero keeps every step at full speed (and changes no result that matters). */
static void flush_denormals(void) {
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
}

/* ---- data ---- */

static bool load_one(const Session *s, const DataSpec *spec, long long limit, Dataset *out) {
  char err[1024];
  bool ok = session_load_data(s, spec, false, limit > 0 ? (int)limit : INT_MAX, out, err, sizeof err);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  return ok;
}

/* Training, validation and test data as the train block says, with the
 * training set's standardization applied to all three. */
static bool load_data(const Session *s, const TrainConfig *tc, long long limit, TrainData *d) {
  if (!load_one(s, &tc->data, limit, &d->train)) return false;
  if (tc->validation.format != DATA_NONE) {
    if (!load_one(s, &tc->validation, 0, &d->val)) return false;
    d->has_val = true;
  } else if (tc->validation_split > 0) {
    char err[512];
    if (!data_split(&d->train, tc->validation_split, tc->seed, &d->val, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      return false;
    }
    d->has_val = true;
  }
  if (tc->test.format != DATA_NONE) {
    if (!load_one(s, &tc->test, 0, &d->test)) return false;
    d->has_test = true;
  }
  if (tc->data.standardize) {   /* kept: checkpoints carry the statistics */
    data_norm_fit(&d->train, &d->norm);
    data_norm_apply(&d->norm, &d->train);
    if (d->has_val) data_norm_apply(&d->norm, &d->val);
    if (d->has_test) data_norm_apply(&d->norm, &d->test);
  }
  return true;
}

/* The training samples the data will hold, from the files' headers
 * (data_count), so that the graphs sized by them can compile while the data
 * loads; -1 where only loading tells. */
static int expected_train_samples(const TrainConfig *tc, long long limit) {
  int n = data_count(&tc->data, limit > 0 ? (int)limit : INT_MAX);
  if (n < 0 || tc->validation.format != DATA_NONE || tc->validation_split <= 0) return n;
  int nval = data_split_count(n, tc->validation_split);
  return nval >= 1 && nval < n ? n - nval : -1;
}

typedef struct {
  const Session *s;
  const TrainConfig *tc;
  long long limit;
  TrainData *d;
  bool ok;
  double seconds;   /* how long it took */
} DataLoad;

static void *load_data_worker(void *arg) {
  DataLoad *l = arg;
  double t0 = now_seconds();
  l->ok = load_data(l->s, l->tc, l->limit, l->d);
  l->seconds = now_seconds() - t0;
  return NULL;
}

/* ---- setting up ---- */

/* Whether the model has a batch_norm layer (its statistics need two samples). */
static bool uses_batch_norm(const Model *m) {
  for (int i = 0; i < m->nparams; i++)
    if (strcmp(m->params[i].layer, "batch_norm") == 0) return true;
  return false;
}

static int nranks(const Trainer *t) { return t->opt.ranks.size > 1 ? t->opt.ranks.size : 1; }

/* This rank's shard of a global batch of n samples: positions *lo.. of it,
 * the return value many (rank r of R takes [n*r/R, n*(r+1)/R)). */
static int shard_of(const Trainer *t, int n, int *lo) {
  int64_t r = t->opt.ranks.rank, size = nranks(t);
  *lo = (int)(n * r / size);
  return (int)(n * (r + 1) / size) - *lo;
}

/* Batch size, samples per epoch and steps per epoch for ntrain training
 * samples. */
static bool plan_epochs(Trainer *t, const char *file, int ntrain) {
  const Model *m = t->m;
  t->ntrain = t->has_batch ? ntrain : 1;
  t->batch = t->has_batch ? (m->train.batch < t->ntrain ? m->train.batch : t->ntrain) : 0;
  int per_rank = t->batch / nranks(t);   /* the smallest shard */
  if (uses_batch_norm(m) && per_rank < 2) {
    fprintf(stderr, "%s: error: batch_norm needs at least 2 samples per batch%s to estimate a variance; batch is %d\n",
            file, nranks(t) > 1 ? " and rank" : "", t->batch);
    return false;
  }
  /* a last batch with a shard of one sample would teach batch_norm a zero
   * variance: each epoch leaves out that remainder (shuffled, so different
   * samples) instead */
  int rem = t->has_batch ? t->ntrain % t->batch : 0;
  t->used = uses_batch_norm(m) && rem && rem / nranks(t) < 2 ? t->ntrain - rem : t->ntrain;
  t->steps_per_epoch = t->has_batch ? (int)(((int64_t)t->used + t->batch - 1) / t->batch) : 1;
  return true;
}

/* Whether each rank updates only its slice of the parameters: with ranks. */
static bool sharded(const Trainer *t) { return nranks(t) > 1; }

void trainer_slice(const Trainer *t, int rank, int64_t *lo, int64_t *hi) {
  int64_t n = t->s.store.param_floats / STORE_ALIGN_FLOATS, size = nranks(t);
  *lo = n * rank / size * STORE_ALIGN_FLOATS;
  *hi = n * (rank + 1) / size * STORE_ALIGN_FLOATS;
}

/* The train steps (full and last partial batch, each fused or split), and
 * the evaluation graph (compiled now so that compile time is reported in one
 * figure). */
static bool compile_steps(Trainer *t) {
  char err[1024];
  double t0 = now_seconds();
  int rem = t->has_batch ? t->used % t->batch : 0, lo = 0, lo_rem = 0;
  int full = t->has_batch ? shard_of(t, t->batch, &lo) : 0, part = shard_of(t, rem, &lo_rem);
  GraphKind kind = t->opt.split ? GRAPH_GRAD_STEP : GRAPH_TRAIN;
  GraphWant want[4] = {{.kind = GRAPH_UPDATE}};
  if (sharded(t)) {
    want[0].kind = GRAPH_UPDATE_SLICE;
    trainer_slice(t, t->opt.ranks.rank, &want[0].lo, &want[0].hi);
  }
  int n = t->opt.split ? 1 : 0;
  if (full || !t->has_batch) want[n++] = (GraphWant){.kind = kind, .batch = full, .first = lo, .total = t->batch};
  if (t->has_batch) want[n++] = (GraphWant){.kind = GRAPH_EVAL, .batch = t->batch};
  if (part) want[n++] = (GraphWant){.kind = kind, .batch = part, .first = lo_rem, .total = rem};
  bool ok = session_compile(&t->s, want, n, err, sizeof err);
  if (ok) {
    if (full || !t->has_batch) t->step = session_shard_graph(&t->s, kind, full, lo, t->batch, err, sizeof err);
    if (part) t->step_rem = session_shard_graph(&t->s, kind, part, lo_rem, rem, err, sizeof err);
    if (t->opt.split && sharded(t)) t->update = session_update_slice(&t->s, want[0].lo, want[0].hi, err, sizeof err);
    else if (t->opt.split) t->update = session_graph(&t->s, GRAPH_UPDATE, 0, err, sizeof err);
  }
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  t->compile_seconds = now_seconds() - t0;
  return ok;
}

/* The initial weights from the model's seed, and the generator of the
 * epochs' orders. */
static void init_weights(Trainer *t) {
  Rng init_rng;
  rng_seed(&init_rng, t->m->train.seed);
  rng_seed(&t->rng, t->m->train.seed ^ 0x5eed5eed5eedULL);
  store_init_values(&t->s.store, &init_rng);
}

/* Loads the data, compiles the train steps for its size and draws the
 * initial weights.  Where the headers give the size, the data loads on a
 * thread of its own while the steps compile and the weights are drawn:
 * inflating Fashion-MNIST and compiling fashion_mlp take about 0.25 s each
 * on an AMD Zen 5. */
static bool prepare(Trainer *t, const char *file) {
  if (!t->has_batch) {
    init_weights(t);
    return plan_epochs(t, file, 1) && compile_steps(t);
  }
  const TrainConfig *tc = &t->m->train;
  int expected = expected_train_samples(tc, t->opt.limit);
  DataLoad load = {&t->s, tc, t->opt.limit, &t->data, false, 0};
  pthread_t loader;
  t->data_beside_compile = expected > 0 && pthread_create(&loader, NULL, load_data_worker, &load) == 0;
  init_weights(t);
  bool ok;
  if (t->data_beside_compile) {
    ok = plan_epochs(t, file, expected) && compile_steps(t);
    pthread_join(loader, NULL);
    ok = ok && load.ok;
  } else {
    load_data_worker(&load);
    ok = load.ok && plan_epochs(t, file, t->data.train.n) && compile_steps(t);
  }
  t->load_seconds = load.seconds;
  if (!ok || !t->data_beside_compile || t->data.train.n == expected) return ok;
  fprintf(stderr, "nnc: %s: changed while it was read (the headers gave %d training samples, then %d were read); "
          "run again\n", t->data.train.source, expected, t->data.train.n);
  return false;
}

bool trainer_init(Trainer *t, const Model *m, const char *file, const TrainerOptions *opt) {
  *t = (Trainer){.m = m, .opt = *opt, .pos = {.best_val_loss = INFINITY, .lr_scale = 1, .plateau_best = INFINITY}};
  t->last_train.accuracy = t->last_val.accuracy = NAN;
  char err[1024];
  if (!session_init(&t->s, m, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  if (opt->ranks.place) opt->ranks.place(&t->s.store, opt->ranks.ctx);
  if (opt->threads > 0) t->s.threads = opt->threads;
  t->s.no_cache = opt->no_cache;
  t->has_batch = lower_has_batch(m);
  if (!prepare(t, file)) return false;
  t->lr_leaf = store_find(&t->s.store, arena_printf(t->s.arena, "%s.lr", optim_name(m->optim.kind)));
  t->pos.base_lr = m->train.lr_override > 0 ? m->train.lr_override : m->optim.lr;
  t->perm = xmalloc(sizeof(int) * (size_t)t->ntrain);
  t->snapshot = store_snapshot_new(&t->s.store);
  if (m->train.patience > 0 && t->data.has_val) t->best = store_snapshot_new(&t->s.store);
  return true;
}

void trainer_free(Trainer *t) {
  free(t->perm);
  free(t->snapshot);
  free(t->best);
  data_free(&t->data.train);
  data_free(&t->data.val);
  data_free(&t->data.test);
  data_norm_free(&t->data.norm);
  session_free(&t->s);
  *t = (Trainer){0};
}

void trainer_hook(Trainer *t, TrainerHookPoint at, TrainerHookFn fn, void *ctx) {
  if (t->nhooks[at] == TRAINER_MAX_HOOKS) die("trainer: too many hooks");
  if (at == TRAINER_BEFORE_UPDATE && !t->update) die("trainer: a before-update hook needs a split train step");
  t->hooks[at][t->nhooks[at]].fn = fn;
  t->hooks[at][t->nhooks[at]++].ctx = ctx;
}

static bool run_hooks(Trainer *t, TrainerHookPoint at) {
  for (int i = 0; i < t->nhooks[at]; i++)
    if (!t->hooks[at][i].fn(t, t->hooks[at][i].ctx)) return false;
  return true;
}

/* ---- steps and epochs ---- */

/* Samples of step k of the epoch: perm[start..start+n). */
static int batch_at(const Trainer *t, int k, int *start) {
  *start = k * t->batch;
  if (!t->has_batch) return 0;
  return t->used - *start < t->batch ? t->used - *start : t->batch;
}

static Compiled *graph_for(const Trainer *t, int n) { return n == t->batch ? t->step : t->step_rem; }

static const Dataset *train_set(const Trainer *t) { return t->has_batch ? &t->data.train : NULL; }

/* Asks for step k's rows (this rank's shard) while the step before computes,
 * so that its gather reads the cache instead of waiting on memory for each
 * scattered row: in `perf record nnc train examples/fashion_mlp.nn --epochs 4
 * --threads 1` the gather's share fell from 5.6% to 3.2%, plus 0.8% for the
 * prefetch (AMD Zen 5). */
static void prefetch_step(const Trainer *t, int k) {
  int start, n = batch_at(t, k, &start), lo = 0;
  if (!t->has_batch || n <= 0) return;
  n = shard_of(t, n, &lo);
  data_prefetch(train_set(t), t->perm + start + lo, n);
}

/* Step k's batch (this rank's shard of it) through the train step g: fused,
 * or split with the before-update hooks (when `hooks`) between the halves.
 * A rank whose shard is empty contributes zero gradients. */
static bool run_step(Trainer *t, Compiled *g, int k, bool hooks) {
  int start, n = batch_at(t, k, &start), lo = 0;
  t->shard_n = t->has_batch ? shard_of(t, n, &lo) : n;
  if (g) {
    session_gather(g, train_set(t), t->perm + start + lo, t->shard_n);
    prefetch_step(t, k + 1);
    jit_run(g->jit);
  } else memset(t->s.store.grad, 0, sizeof(float) * (size_t)t->s.store.param_floats);
  if (!t->update) return true;
  if (hooks && !run_hooks(t, TRAINER_BEFORE_UPDATE)) return false;
  jit_run(t->update->jit);
  return true;
}

/* After a non-finite loss at step k: back to the epoch's first weights, the
 * steps before k again, and the failing step's IR evaluated from its inputs. */
static void explain_nonfinite(Trainer *t, int k, float loss) {
  if (nranks(t) > 1) {   /* replaying would need every rank */
    fprintf(stderr, "nnc: rank %d: training stopped: the loss of its shard is %s at epoch %lld, step %lld (one "
            "process explains where it comes from)\n", t->opt.ranks.rank, isnan(loss) ? "NaN" : "infinite",
            (long long)t->pos.epoch + 1, (long long)t->pos.step);
    return;
  }
  store_snapshot_restore(&t->s.store, t->snapshot);
  for (int j = t->ep.first; j < k; j++) {
    int start, n = batch_at(t, j, &start);
    run_step(t, graph_for(t, n), j, false);
  }
  int start, n = batch_at(t, k, &start);
  Compiled *g = graph_for(t, n);
  session_gather(g, train_set(t), t->perm + start, n);
  char why[512];
  const IrNode *culprit = session_explain_nonfinite(&t->s, g, why, sizeof why);
  fprintf(stderr, "nnc: training stopped: the loss is %s at epoch %lld, step %lld\nnnc: %s\n",
          isnan(loss) ? "NaN" : "infinite", (long long)t->pos.epoch + 1, (long long)t->pos.step, why);
  /* after some steps, weights that ran away (not the data, not the first
   * step's initial weights) point at the step size */
  if (t->pos.step > 1 && (!culprit || culprit->op != OP_INPUT)) {
    /* --lr sets the base rate, which a schedule then scales */
    char rate[96];
    if (t->lr != t->pos.base_lr) snprintf(rate, sizeof rate, "%g in force, from a base of %g", t->lr, t->pos.base_lr);
    else snprintf(rate, sizeof rate, "%g", t->lr);
    fprintf(stderr, "nnc: a diverging run usually needs a smaller learning rate (it is %s: try --lr %g) or clipped "
            "gradients (clip_norm = 1 in the optimizer)\n", rate, t->pos.base_lr / 10);
  }
}

/* Metric sums over the ranks: loss, samples and correct judgements, the
 * whole model's and each head's. */
static void sum_metrics(const Trainer *t, Metrics *m) {
  if (nranks(t) == 1) return;
  int heads = t->s.nheads;   /* the sums are not yet finished: m->nheads is still 0 */
  double v[3 + SESSION_MAX_HEADS] = {m->loss, (double)m->n, (double)m->correct};
  for (int h = 0; h < heads; h++) v[3 + h] = (double)m->head_correct[h];
  t->opt.ranks.sum(v, 3 + heads, t->opt.ranks.ctx);
  m->loss = v[0];
  m->n = (int64_t)v[1];
  m->correct = (int64_t)v[2];
  for (int h = 0; h < heads; h++) m->head_correct[h] = (int64_t)v[3 + h];
}

/* Adds the sums of src to *dst (loss, samples, correct judgements, each
 * head's). */
static void add_metrics(const Trainer *t, Metrics *dst, const Metrics *src) {
  dst->loss += src->loss;
  dst->n += src->n;
  dst->correct += src->correct;
  for (int h = 0; h < t->s.nheads; h++) dst->head_correct[h] += src->head_correct[h];
}

bool trainer_step(Trainer *t) {
  int k = t->ep.next, start, n = batch_at(t, k, &start), lo = 0;
  Compiled *g = graph_for(t, n);
  if (!run_step(t, g, k, true)) return false;
  if (t->has_batch) shard_of(t, n, &lo);
  /* the step's sums over every rank, so that the epoch's running metrics
   * (the progress line) are the global batches' even where this rank's
   * shard is empty */
  Metrics sums = {0};
  if (g) session_accumulate(&t->s, g, train_set(t), t->perm + start + lo, t->shard_n, &sums);
  sum_metrics(t, &sums);
  add_metrics(t, &t->ep.m, &sums);
  t->pos.step++;
  t->ep.next++;
  float loss = g ? jit_output(g->jit, "loss")[0] : 0;
  if (!isfinite(loss)) {
    explain_nonfinite(t, k, loss);
    return false;
  }
  return run_hooks(t, TRAINER_AFTER_STEP);
}

/* The schedule's rate for the epoch under way, written into the optimizer's
 * learning-rate leaf (a model without parameters has none). */
static void set_learning_rate(Trainer *t) {
  const TrainConfig *tc = &t->m->train;
  double lr = lr_schedule_rate(&tc->schedule, t->pos.base_lr, t->pos.epoch, tc->epochs, t->pos.lr_scale);
  t->lr = lr;
  if (t->lr_leaf) *store_data(&t->s.store, t->lr_leaf) = (float)lr;
}

/* A new epoch draws its order; a resumed one replays the order it had (the
 * checkpoint stored the generator from before its shuffle). */
static void epoch_begin(Trainer *t) {
  bool resuming = t->ep.next > 0;
  t->ep.rng = t->rng;
  for (int i = 0; i < t->ntrain; i++) t->perm[i] = i;
  if (t->has_batch && t->m->train.shuffle) rng_shuffle(&t->rng, t->perm, t->ntrain);
  if (!resuming) t->ep.m = (Metrics){0};
  t->ep.first = t->ep.next;
  t->ep.start = now_seconds();
  set_learning_rate(t);
  store_snapshot_take(&t->s.store, t->snapshot);
}

/* Early stopping: remembers the best epoch, or restores it when patience
 * runs out (cmd_train says so once the epoch's lines are out). */
static void early_stopping(Trainer *t, const Metrics *vm) {
  CkptPosition *p = &t->pos;
  if (vm->loss < p->best_val_loss) {
    p->best_val_loss = vm->loss;
    p->bad_epochs = 0;
    store_snapshot_take(&t->s.store, t->best);
    return;
  }
  if (++p->bad_epochs < t->m->train.patience) return;
  t->stopped_early = true;
  if (isfinite(p->best_val_loss)) store_snapshot_restore(&t->s.store, t->best);
}

/* Metrics, validation, early stopping and the after-epoch hooks. */
static bool epoch_end(Trainer *t) {
  if (!run_hooks(t, TRAINER_WHOLE_STORE)) return false;
  t->epoch_seconds = now_seconds() - t->ep.start;
  t->epoch_samples = t->has_batch ? t->used - (int64_t)t->ep.first * t->batch : t->steps_per_epoch - t->ep.first;
  t->train_seconds += t->epoch_seconds;
  t->samples_done += t->epoch_samples;
  t->pos.epoch++;
  t->pos.rng = t->rng;
  t->last_train = t->ep.m;
  session_finish_metrics(&t->s, &t->last_train);
  t->ep = (EpochState){0};
  t->last_val = (Metrics){.accuracy = NAN};
  if (t->data.has_val && !trainer_evaluate(t, &t->data.val, &t->last_val)) return false;
  if (t->best) early_stopping(t, &t->last_val);
  lr_schedule_observe(&t->m->train.schedule, &t->pos, t->data.has_val ? t->last_val.loss : t->last_train.loss);
  return run_hooks(t, TRAINER_AFTER_EPOCH);
}

TrainStatus trainer_epoch(Trainer *t) {
  epoch_begin(t);
  while (t->ep.next < t->steps_per_epoch) {
    if (!trainer_step(t)) return TRAIN_FAILED;
    if (t->opt.stop && *t->opt.stop && t->ep.next < t->steps_per_epoch) return TRAIN_INTERRUPTED;
  }
  if (!epoch_end(t)) return TRAIN_FAILED;
  if (t->stopped_early) return TRAIN_STOPPED_EARLY;
  return t->opt.stop && *t->opt.stop ? TRAIN_INTERRUPTED : TRAIN_DONE;
}

TrainStatus trainer_run(Trainer *t) {
  flush_denormals();
  TrainStatus st = TRAIN_DONE;
  while (st == TRAIN_DONE && t->pos.epoch < t->m->train.epochs) st = trainer_epoch(t);
  return st;
}

bool trainer_evaluate(Trainer *t, const Dataset *d, Metrics *out) {
  char err[1024];
  /* whole batches per rank: each batch is the batch one process runs */
  int64_t batches = (d->n + t->batch - 1) / t->batch, r = t->opt.ranks.rank, size = nranks(t);
  int lo = (int)(batches * r / size) * t->batch, hi = (int)(batches * (r + 1) / size) * t->batch;
  *out = (Metrics){0};
  bool ok = session_evaluate_range(&t->s, d, lo, hi < d->n ? hi : d->n, t->batch, out, err, sizeof err);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  sum_metrics(t, out);
  session_finish_metrics(&t->s, out);
  return ok;
}

/* ---- checkpoints ---- */

/* How many correct-prediction counts the run keeps (one per class output). */
static int ncorrect(const Trainer *t) { return t->s.metric.kind != METRIC_NONE ? 1 : 0; }

/* Where the epoch under way stands, so that a resumed run continues it at the
 * same sample and finishes it with the same metrics as a run that never
 * stopped: metric sums [loss, samples, correct...].  All zero between epochs. */
static void epoch_position(const Trainer *t, CkptPosition *p) {
  if (t->ep.next == 0) return;
  const Metrics *m = &t->ep.m;
  p->rng = t->ep.rng;   /* resuming replays the epoch's order */
  p->epoch_batch = t->batch;
  p->epoch_steps = t->ep.next;
  p->nsums = 2 + ncorrect(t);
  p->sums[0] = m->loss;
  p->sums[1] = (double)m->n;
  if (ncorrect(t)) p->sums[2] = (double)m->correct;
}

bool trainer_checkpoint(Trainer *t, const char *path) {
  if (!run_hooks(t, TRAINER_WHOLE_STORE)) return false;
  CkptPosition pos = t->pos;
  epoch_position(t, &pos);
  if (t->opt.ranks.rank != 0) return true;
  const Store *st = &t->s.store;
  CkptTensor *l = xcalloc((size_t)st->n * 2 + 2, sizeof(CkptTensor));
  int n = 0;
  const DataNorm *norm = &t->data.norm;
  if (norm->nfeat) {
    l[n++] = (CkptTensor){DATA_NORM_MEAN_TENSOR, CKPT_STATE, shape_1(norm->nfeat), norm->mean};
    l[n++] = (CkptTensor){DATA_NORM_STD_TENSOR, CKPT_STATE, shape_1(norm->nfeat), norm->std};
  }
  for (int i = 0; i < st->n; i++)
    l[n++] = (CkptTensor){st->t[i].name, st->t[i].op == OP_PARAM ? CKPT_PARAM : CKPT_STATE, st->t[i].shape,
                          store_data(st, &st->t[i])};
  Arena *names = arena_new();
  for (int i = 0; t->best && i < st->n; i++) {
    const Tensor *x = &st->t[i];
    float *base = t->best + (x->op == OP_PARAM ? 0 : st->param_floats);
    l[n++] = (CkptTensor){arena_printf(names, "best:%s", x->name), CKPT_STATE, x->shape, base + x->offset};
  }
  char err[1024];
  bool ok = ckpt_write(path, t->m->name, &pos, l, n, err, sizeof err);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  arena_free(names);
  free(l);
  return ok;
}

/* The epoch under way in a checkpoint, if it stopped mid-epoch. */
static bool restore_epoch(Trainer *t, const Checkpoint *ck, const char *path) {
  CkptEpoch at;
  char err[1024];
  CkptRun run = {t->batch, t->steps_per_epoch, ncorrect(t)};
  if (!ckpt_resume_epoch(ck, &run, path, &at, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  t->ep.next = at.steps;
  t->ep.m = (Metrics){.loss = at.sums[0], .n = (int64_t)at.sums[1], .correct = at.nsums > 2 ? (int64_t)at.sums[2] : 0};
  return true;
}

/* The early-stopping copy ("best:NAME" tensors), when this run keeps one; a
 * checkpoint that records a best loss must have them all (else early
 * stopping would restore zeros). */
static bool restore_best(Trainer *t, const Checkpoint *ck, const char *path) {
  const Store *st = &t->s.store;
  for (int i = 0; t->best && i < st->n; i++) {
    char name[512], b[96];
    snprintf(name, sizeof name, "best:%s", st->t[i].name);
    const CkptTensor *c = ckpt_find(ck, name);
    float *base = t->best + (st->t[i].op == OP_PARAM ? 0 : st->param_floats);
    if (c && shape_eq(c->shape, st->t[i].shape)) {
      memcpy(base + st->t[i].offset, c->data, sizeof(float) * (size_t)st->t[i].numel);
    } else if (!c && st->t[i].hyper) {   /* a version 1 file: the hyperparameters never changed */
      memcpy(base + st->t[i].offset, store_data(st, &st->t[i]), sizeof(float) * (size_t)st->t[i].numel);
    } else if (isfinite(t->pos.best_val_loss)) {
      fprintf(stderr, "nnc: %s: records a best validation loss but has no tensor '%s' of shape %s\n", path, name,
              shape_str(st->t[i].shape, b));
      return false;
    }
  }
  return true;
}

bool trainer_restore(Trainer *t, const char *path, bool resume) {
  Checkpoint ck;
  char err[1024];
  if (!ckpt_read(path, NULL, 0, &ck, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  bool ok = session_load(&t->s, &ck, path, resume);
  if (ok && resume) {
    double base = t->pos.base_lr;
    t->pos = ck.pos;
    /* the checkpoint's base rate continues its schedule, unless --lr says
     * otherwise; a version 1 file has none (the model's) */
    if (t->m->train.lr_override > 0 || t->pos.base_lr == 0) t->pos.base_lr = base;
    t->rng = ck.pos.rng;
    ok = restore_epoch(t, &ck, path) && restore_best(t, &ck, path);
    t->pos.epoch_batch = t->pos.epoch_steps = t->pos.nsums = 0;   /* now in t->ep */
  }
  ckpt_free(&ck);
  return ok;
}
