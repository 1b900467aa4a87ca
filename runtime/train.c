/* train: `nnc train`, `nnc eval` and `nnc predict`.
 *
 * The loop: per epoch, a seeded shuffle, mini-batches through the compiled
 * train step (the last partial batch through a step compiled for its size),
 * training loss/accuracy from the step's own outputs, then validation metrics
 * in evaluation mode, early stopping, checkpoints.  Same seed, same numbers:
 * all randomness comes from the session's Rng (shuffling) and from the
 * graph's counter-based dropout stream, and both are saved in checkpoints.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "ckpt.h"
#include "cli.h"
#include "session.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

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

typedef struct {
  Dataset train, val, test;   /* loaded data (val/test may be empty) */
  bool has_val, has_test;     /* which are present */
} Data;

static void data_release(Data *d) {
  data_free(&d->train);
  data_free(&d->val);
  data_free(&d->test);
}

static bool load_one(const Session *s, const DataSpec *spec, long long limit, Dataset *out) {
  char err[1024];
  bool ok = limit > 0 ? data_load_first(spec, s->nfeat, s->nclasses, s->ntarget, (int)limit, out, err, sizeof err)
                      : data_load(spec, s->nfeat, s->nclasses, s->ntarget, out, err, sizeof err);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  return ok;
}

/* Loads training, validation and test data as the train block says, with the
 * training set's standardization applied to all three. */
static bool load_data(const Session *s, const TrainConfig *tc, long long limit, Data *d) {
  *d = (Data){0};
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
  if (tc->data.standardize) {
    DataNorm norm;
    data_norm_fit(&d->train, &norm);
    data_norm_apply(&norm, &d->train);
    if (d->has_val) data_norm_apply(&norm, &d->val);
    if (d->has_test) data_norm_apply(&norm, &d->test);
    data_norm_free(&norm);
  }
  return true;
}

/* Checkpoint tensors: every slot, plus the best weights so far when early
 * stopping keeps them (so a resumed run restores the same best). */
typedef struct {
  CkptTensor *t;   /* tensors */
  int n;           /* count */
} TensorList;

/* Where an interrupted epoch stood (the tensor CKPT_EPOCH_TENSOR): a resumed
 * run continues the epoch at the same sample and finishes it with the same
 * metrics as a run that never stopped. */
static void epoch_store(float *t, int batch, int steps, const Metrics *m) {
  t[CKPT_EPOCH_BATCH] = (float)batch;
  t[CKPT_EPOCH_STEPS] = (float)steps;
  t[CKPT_EPOCH_LOSS_HI] = (float)m->loss;
  t[CKPT_EPOCH_LOSS_LO] = (float)(m->loss - (double)t[CKPT_EPOCH_LOSS_HI]);
  t[CKPT_EPOCH_CORRECT] = (float)m->correct;
  t[CKPT_EPOCH_N] = (float)m->n;
}

static TensorList slot_tensors(Session *s, float **best, float *epoch) {
  TensorList l = {xcalloc((size_t)s->nslots * 2 + 2, sizeof(CkptTensor)), 0};
  l.t[l.n++] = (CkptTensor){CKPT_EPOCH_TENSOR, CKPT_STATE, shape_1(CKPT_EPOCH_FIELDS), epoch};
  for (int i = 0; i < s->nslots; i++)
    l.t[l.n++] = (CkptTensor){s->slots[i].name, s->slots[i].op == OP_PARAM ? CKPT_PARAM : CKPT_STATE,
                              s->slots[i].shape, s->slots[i].data};
  if (best)
    for (int i = 0; i < s->nslots; i++) {
      char *name = arena_printf(s->arena, "best:%s", s->slots[i].name);
      l.t[l.n++] = (CkptTensor){name, CKPT_STATE, s->slots[i].shape, best[i]};
    }
  return l;
}

static bool save_checkpoint(Session *s, const char *path, const CkptPosition *pos, float **best, float *epoch) {
  TensorList l = slot_tensors(s, best, epoch);
  char err[1024];
  bool ok = ckpt_write(path, s->model->name, pos, l.t, l.n, err, sizeof err);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  free(l.t);
  return ok;
}

typedef struct {
  bool quiet;         /* --quiet */
  bool live;          /* stdout is a terminal: redraw one progress line */
} Reporter;

static void format_eta(double s, char *buf, size_t len) {
  if (!(s >= 0) || s > 1e7) s = 0;
  int t = (int)(s + 0.5);
  snprintf(buf, len, "%d:%02d", t / 60, t % 60);
}

/* Whether the model has a batch_norm layer (its statistics need two samples). */
static bool uses_batch_norm(const Model *m) {
  for (int i = 0; i < m->nparams; i++)
    if (strcmp(m->params[i].layer, "batch_norm") == 0) return true;
  return false;
}

/* A checkpoint path whose directory cannot be written is refused before
 * training, not after it. */
static bool writable_dir_of(const char *path) {
  char *dir = xstrdup(path);
  char *slash = strrchr(dir, '/');
  const char *d = slash ? (slash == dir ? "/" : (*slash = 0, dir)) : ".";
  bool ok = access(d, W_OK | X_OK) == 0;
  if (!ok) fprintf(stderr, "nnc: %s: cannot write into %s: %s\n", path, d, strerror(errno));
  free(dir);
  return ok;
}

/* JSON has no NaN or infinity: such a value is written as null. */
static void json_number(FILE *f, const char *key, double v) {
  if (isfinite(v)) fprintf(f, ", \"%s\": %.9g", key, v);
  else fprintf(f, ", \"%s\": null", key);
}

int cmd_train(const Cli *c) {
  Front f;
  Session s = {0};
  Data d = {0};
  float **best = NULL;
  float **snapshot = NULL;   /* every slot at the start of the current epoch */
  int status = 1;
  FILE *log = NULL;
  int *perm = NULL;
  if (!front_load(&f, c->pos[0], c)) goto done;
  const Model *m = f.model;
  const TrainConfig *tc = &m->train;
  char err[1024];
  if (!session_init(&s, m, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    goto done;
  }
  bool has_batch = m->ninputs + m->ntargets > 0;
  if (has_batch && (m->ninputs != 1 || m->ntargets != 1)) {
    fprintf(stderr, "%s: error: nnc train feeds one input and one target from the data; %s has %d input%s and %d target%s\n",
            c->pos[0], m->name, m->ninputs, m->ninputs == 1 ? "" : "s", m->ntargets, m->ntargets == 1 ? "" : "s");
    goto done;
  }
  if (has_batch && (!m->has_train || tc->data.format == DATA_NONE)) {
    fprintf(stderr, "%s: error: nothing to train on: add a train block with data = idx(...) or csv(...)\n",
            c->pos[0]);
    goto done;
  }
  long long save_every = 0, limit = 0;
  if (!cli_int(c, "save-every", 1, 1000000, &save_every) || !cli_int(c, "limit", 1, INT_MAX, &limit)) goto done;
  if (save_every && !cli_get(c, "save")) {
    fprintf(stderr, "nnc train: --save-every needs --save FILE to know where to write\n");
    goto done;
  }
  if (cli_get(c, "resume") && cli_get(c, "init")) {
    fprintf(stderr, "nnc train: --resume continues a run and --init starts a new one; give one of them\n");
    goto done;
  }
  if (cli_get(c, "save") && !writable_dir_of(cli_get(c, "save"))) goto done;
  Reporter rep = {.quiet = cli_flag(c, "quiet"), .live = isatty(STDOUT_FILENO)};
  if (cli_get(c, "log")) {
    log = fopen(cli_get(c, "log"), "a");
    if (!log) {
      fprintf(stderr, "nnc: %s: %s\n", cli_get(c, "log"), strerror(errno));
      goto done;
    }
  }
  const char *overrides[] = {"epochs", "batch", "lr", "seed"};
  for (size_t i = 0; i < COUNT_OF(overrides); i++)
    if (cli_get(c, overrides[i])) printf("override: %s = %s\n", overrides[i], cli_get(c, overrides[i]));

  if (has_batch && !load_data(&s, tc, limit, &d)) goto done;
  int B = has_batch ? tc->batch : 0;
  int ntrain = has_batch ? d.train.n : 1;
  if (has_batch && B > ntrain) B = ntrain;
  if (uses_batch_norm(m) && B < 2) {
    fprintf(stderr, "%s: error: batch_norm needs at least 2 samples per batch to estimate a variance; batch is %d\n",
            c->pos[0], B);
    goto done;
  }
  /* a last batch of one sample would teach batch_norm a zero variance: each
   * epoch leaves out one (shuffled, so a different) sample instead */
  int used = uses_batch_norm(m) && ntrain % B == 1 ? ntrain - 1 : ntrain;
  if (used < ntrain && !rep.quiet)
    printf("note: batch_norm needs 2 samples per batch; each epoch trains on %d of the %d samples\n", used, ntrain);
  int steps_per_epoch = has_batch ? (used + B - 1) / B : 1;
  int rem = has_batch ? used % B : 0;

  double t0 = now_seconds();
  Compiled *step = session_graph(&s, GRAPH_TRAIN, B, err, sizeof err);
  Compiled *step_rem = step && rem ? session_graph(&s, GRAPH_TRAIN, rem, err, sizeof err) : NULL;
  if (!step || (rem && !step_rem)) {
    fprintf(stderr, "nnc: %s\n", err);
    goto done;
  }
  if (has_batch) {  /* also tells model state from optimizer state for --init */
    if (!session_graph(&s, GRAPH_EVAL, B, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      goto done;
    }
  }
  double compile_s = now_seconds() - t0;

  Rng init_rng, rng;
  rng_seed(&init_rng, tc->seed);
  rng_seed(&rng, tc->seed ^ 0x5eed5eed5eedULL);
  session_init_values(&s, &init_rng);
  CkptPosition pos = {.best_val_loss = INFINITY};
  float epoch[CKPT_EPOCH_FIELDS] = {0};   /* progress of the epoch under way, for checkpoints */
  Metrics resumed = {0};             /* metrics of the steps an interrupted epoch already took */
  int first_step = 0;                /* where the first epoch starts (resuming mid-epoch) */
  bool early = tc->patience > 0 && d.has_val;
  if (early) {
    best = xcalloc((size_t)s.nslots, sizeof(float *));
    for (int i = 0; i < s.nslots; i++) best[i] = xcalloc((size_t)shape_numel(s.slots[i].shape), sizeof(float));
  }
  if (cli_get(c, "resume") || cli_get(c, "init")) {
    bool resume = cli_get(c, "resume") != NULL;
    const char *path = resume ? cli_get(c, "resume") : cli_get(c, "init");
    Checkpoint ck;
    if (!ckpt_read(path, NULL, 0, &ck, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      goto done;
    }
    bool ok = session_load(&s, &ck, path, resume);
    if (ok && resume) {
      pos = ck.pos;
      rng = ck.pos.rng;
      CkptEpoch at;
      if (!ckpt_resume_epoch(&ck, &(CkptRun){B, steps_per_epoch, s.nclasses > 0}, path, &at, err, sizeof err)) {
        fprintf(stderr, "nnc: %s\n", err);
        ok = false;
      }
      first_step = at.steps;
      resumed = (Metrics){.loss = at.loss, .correct = at.correct, .n = at.n};
      if (best)
        for (int i = 0; i < s.nslots; i++) {
          char name[256];
          snprintf(name, sizeof name, "best:%s", s.slots[i].name);
          const CkptTensor *t = ckpt_find(&ck, name);
          if (t && shape_eq(t->shape, s.slots[i].shape)) {
            memcpy(best[i], t->data, sizeof(float) * (size_t)shape_numel(t->shape));
          } else if (ok && isfinite(pos.best_val_loss)) {   /* early stopping would restore zeros */
            char b[96];
            fprintf(stderr, "nnc: %s: records a best validation loss but has no tensor '%s' of shape %s\n", path,
                    name, shape_str(s.slots[i].shape, b));
            ok = false;
          }
        }
    }
    ckpt_free(&ck);
    if (!ok) goto done;
    if (!rep.quiet && resume)
      printf("resumed from %s: epoch %lld, step %lld\n", path, (long long)pos.epoch, (long long)pos.step);
    else if (!rep.quiet)
      printf("weights from %s; fresh optimizer state\n", path);
  }

  if (!rep.quiet) {
    printf("training %s: %lld parameters, %d samples", m->name, (long long)model_param_count(m), has_batch ? ntrain : 0);
    if (d.has_val) printf(", %d validation", d.val.n);
    if (d.has_test) printf(", %d test", d.test.n);
    printf("; batch %d, %d epochs; compiled in %.2f s\n", B, tc->epochs, compile_s);
  }
  if (pos.epoch >= tc->epochs) {
    fprintf(stderr, "nnc: the checkpoint has already trained %lld epochs; nothing to do for --epochs %d\n",
            (long long)pos.epoch, tc->epochs);
    status = 0;
    goto done;
  }
  flush_denormals();
  struct sigaction sa = {.sa_handler = on_sigint}, old_sa;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);
  interrupted = 0;

  perm = xmalloc(sizeof(int) * (size_t)(ntrain > 0 ? ntrain : 1));
  snapshot = xcalloc((size_t)s.nslots, sizeof(float *));
  for (int i = 0; i < s.nslots; i++) snapshot[i] = xmalloc(sizeof(float) * (size_t)shape_numel(s.slots[i].shape));
  const char *save_path = cli_get(c, "save");
  bool stopped_early = false;
  Metrics last_train = {.accuracy = NAN}, last_val = {.accuracy = NAN};  /* of the last epoch */
  double train_seconds = 0;
  int64_t samples_done = 0;
  while (pos.epoch < tc->epochs && !interrupted && !stopped_early) {
    Rng epoch_rng = rng;  /* a checkpoint mid-epoch stores this to replay the same order */
    for (int i = 0; i < ntrain; i++) perm[i] = i;
    if (has_batch && tc->shuffle) rng_shuffle(&rng, perm, ntrain);
    int first = first_step;
    for (int i = 0; i < s.nslots; i++)  /* where a replay after a non-finite loss starts */
      memcpy(snapshot[i], s.slots[i].data, sizeof(float) * (size_t)shape_numel(s.slots[i].shape));
    Metrics tm = first_step ? resumed : (Metrics){0};
    int64_t epoch_start_n = tm.n;
    first_step = 0;
    bool partial = false;
    double e0 = now_seconds(), last_draw = 0;
    for (int k = first; k < steps_per_epoch; k++) {
      int start = k * B, n = has_batch ? (used - start < B ? used - start : B) : 0;
      Compiled *g = n == B ? step : step_rem;
      session_run(g, has_batch ? &d.train : NULL, perm + start, n);
      session_accumulate(&s, g, has_batch ? &d.train : NULL, perm + start, n, &tm);
      pos.step++;
      float loss = jit_output(g->jit, "loss")[0];
      if (!isfinite(loss)) {
        /* the step has already updated the weights with non-finite values:
         * go back to the epoch's start, replay the steps before this one
         * (the code is deterministic), and explain this step from the
         * weights it started with */
        for (int i = 0; i < s.nslots; i++)
          memcpy(s.slots[i].data, snapshot[i], sizeof(float) * (size_t)shape_numel(s.slots[i].shape));
        for (int j = first; j < k; j++) {
          int sj = j * B, nj = has_batch ? (used - sj < B ? used - sj : B) : 0;
          session_run(nj == B ? step : step_rem, has_batch ? &d.train : NULL, perm + sj, nj);
        }
        session_gather(g, has_batch ? &d.train : NULL, perm + start, n);
        char why[512];
        session_explain_nonfinite(&s, g, why, sizeof why);
        if (rep.live && !rep.quiet) printf("\n");
        fprintf(stderr, "nnc: training stopped: the loss is %s at epoch %lld, step %lld\nnnc: %s\n",
                isnan(loss) ? "NaN" : "infinite", (long long)pos.epoch + 1, (long long)pos.step, why);
        goto restore_signal;
      }
      if (rep.live && !rep.quiet) {
        double t = now_seconds();
        if (t - last_draw > 0.2 || k + 1 == steps_per_epoch) {
          last_draw = t;
          double rate = (double)(tm.n) / (t - e0);
          char eta[32];
          format_eta((double)(ntrain - (start + n)) / rate, eta, sizeof eta);
          char l[32];
          printf("\r\033[Kepoch %lld/%d [%*d/%d] loss %s  %.0f samples/s  ETA %s", (long long)pos.epoch + 1,
                 tc->epochs, (int)snprintf(NULL, 0, "%d", steps_per_epoch), k + 1, steps_per_epoch,
                 session_loss_str(tm.loss / (double)tm.n, l), rate, eta);
          fflush(stdout);
        }
      }
      if (interrupted && k + 1 < steps_per_epoch) {
        pos.rng = epoch_rng;  /* resuming replays this epoch's order and skips the steps done */
        epoch_store(epoch, B, k + 1, &tm);
        partial = true;
        break;
      }
    }
    if (partial) break;
    double secs = now_seconds() - e0;
    int64_t fresh = tm.n - epoch_start_n;   /* samples this process trained in the epoch */
    train_seconds += secs;
    samples_done += fresh;
    pos.epoch++;
    pos.rng = rng;
    tm.loss /= (double)(tm.n ? tm.n : 1);
    tm.accuracy = s.nclasses > 0 && tm.n ? (double)tm.correct / (double)tm.n : NAN;
    Metrics vm = {.accuracy = NAN};
    if (d.has_val && !session_evaluate(&s, &d.val, B, &vm, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      goto restore_signal;
    }
    last_train = tm;
    last_val = vm;
    if (!rep.quiet) {
      printf("%sepoch %lld/%d", rep.live ? "\r\033[K" : "", (long long)pos.epoch, tc->epochs);
      session_print_metrics("train", &tm);
      if (d.has_val) session_print_metrics("val", &vm);
      printf("  %.0f samples/s  %.1f s\n", (double)fresh / secs, secs);
      fflush(stdout);
    }
    if (log) {
      fprintf(log, "{\"epoch\": %lld, \"step\": %lld", (long long)pos.epoch, (long long)pos.step);
      json_number(log, "train_loss", tm.loss);
      if (s.nclasses > 0) json_number(log, "train_accuracy", tm.accuracy);
      if (d.has_val) json_number(log, "val_loss", vm.loss);
      if (d.has_val && s.nclasses > 0) json_number(log, "val_accuracy", vm.accuracy);
      fprintf(log, ", \"seconds\": %.6g, \"samples_per_second\": %.6g}\n", secs, (double)fresh / secs);
      fflush(log);
    }
    if (early) {
      if (vm.loss < pos.best_val_loss) {
        pos.best_val_loss = vm.loss;
        pos.bad_epochs = 0;
        for (int i = 0; i < s.nslots; i++)
          memcpy(best[i], s.slots[i].data, sizeof(float) * (size_t)shape_numel(s.slots[i].shape));
      } else if (++pos.bad_epochs >= tc->patience) {
        stopped_early = true;
        if (isfinite(pos.best_val_loss)) {
          for (int i = 0; i < s.nslots; i++)
            memcpy(s.slots[i].data, best[i], sizeof(float) * (size_t)shape_numel(s.slots[i].shape));
          printf("early stopping: no validation improvement for %d epoch%s; restored the weights of the best epoch "
                 "(validation loss %s)\n",
                 tc->patience, tc->patience == 1 ? "" : "s", session_loss_str(pos.best_val_loss, (char[32]){0}));
        } else {
          printf("early stopping: no epoch had a finite validation loss in %d epoch%s; keeping the last weights\n",
                 tc->patience, tc->patience == 1 ? "" : "s");
        }
      }
    }
    if (save_path && save_every && pos.epoch % save_every == 0 && pos.epoch < tc->epochs && !stopped_early) {
      if (!save_checkpoint(&s, save_path, &pos, best, epoch)) goto restore_signal;
    }
    if (stopped_early) break;
  }
  if (rep.live && interrupted && !rep.quiet) printf("\n");
  if (interrupted) {
    const char *path = save_path ? save_path : arena_printf(f.arena, "%s.interrupted.ckpt", m->name);
    if (save_checkpoint(&s, path, &pos, best, epoch))
      fprintf(stderr, "nnc: interrupted; saved %s (resume with --resume %s)\n", path, path);
    status = 130;
    goto restore_signal;
  }
  if (d.has_test) {
    Metrics te;
    if (!session_evaluate(&s, &d.test, B, &te, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      goto restore_signal;
    }
    printf("test");
    session_print_metrics("", &te);
    printf("  (%lld samples)\n", (long long)te.n);
  }
  if (has_batch && !d.has_test && last_train.n) {
    printf("final");
    session_print_metrics("train", &last_train);
    if (d.has_val) session_print_metrics("val", &last_val);
    printf("\n");
  }
  if (!has_batch)
    printf("final loss %.9g after %lld steps\n", jit_output(step->jit, "loss")[0], (long long)pos.step);
  if (model_param_count(m) <= 16) {  /* a small model: its parameters are the result */
    for (int i = 0; i < s.nslots; i++) {
      if (s.slots[i].op != OP_PARAM) continue;
      printf("  %s =", s.slots[i].name);
      for (int64_t k = 0; k < shape_numel(s.slots[i].shape); k++) printf(" %.9g", s.slots[i].data[k]);
      printf("\n");
    }
  }
  if (!rep.quiet && train_seconds > 0)
    printf("trained %lld %s in %.2f s (%.0f %s/s)\n", (long long)samples_done, has_batch ? "samples" : "steps",
           train_seconds, (double)samples_done / train_seconds, has_batch ? "samples" : "steps");
  if (save_path) {
    if (!save_checkpoint(&s, save_path, &pos, best, epoch)) goto restore_signal;
    if (!rep.quiet) printf("saved %s\n", save_path);
  }
  status = 0;
restore_signal:
  sigaction(SIGINT, &old_sa, NULL);
done:
  if (best)
    for (int i = 0; i < s.nslots; i++) free(best[i]);
  free(best);
  if (snapshot)
    for (int i = 0; i < s.nslots; i++) free(snapshot[i]);
  free(snapshot);
  free(perm);
  if (log) fclose(log);
  data_release(&d);
  session_free(&s);
  front_free(&f);
  return status;
}
