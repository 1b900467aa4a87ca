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

static TensorList slot_tensors(Session *s, float **best) {
  TensorList l = {xcalloc((size_t)s->nslots * 2 + 1, sizeof(CkptTensor)), 0};
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

static bool save_checkpoint(Session *s, const char *path, const CkptPosition *pos, float **best) {
  TensorList l = slot_tensors(s, best);
  char err[1024];
  bool ok = ckpt_write(path, s->model->name, pos, l.t, l.n, err, sizeof err);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  free(l.t);
  return ok;
}

typedef struct {
  bool quiet;         /* --quiet */
  bool live;          /* stdout is a terminal: redraw one progress line */
  FILE *log;          /* --log, or NULL */
} Reporter;

static void format_eta(double s, char *buf, size_t len) {
  if (!(s >= 0) || s > 1e7) s = 0;
  int t = (int)(s + 0.5);
  snprintf(buf, len, "%d:%02d", t / 60, t % 60);
}

int cmd_train(const Cli *c) {
  Front f;
  Session s = {0};
  Data d = {0};
  float **best = NULL;
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
  if (has_batch && (!m->has_train || tc->data.format == DATA_NONE)) {
    fprintf(stderr, "%s: error: nothing to train on: add a train block with data = idx(...) or csv(...)\n",
            c->pos[0]);
    goto done;
  }
  long long save_every = 0, limit = 0;
  if (!cli_int(c, "save-every", 1, 1000000, &save_every) || !cli_int(c, "limit", 1, 1LL << 31, &limit)) goto done;
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
  int steps_per_epoch = has_batch ? (ntrain + B - 1) / B : 1;
  int rem = has_batch ? ntrain % B : 0;

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
      if (best)
        for (int i = 0; i < s.nslots; i++) {
          char name[256];
          snprintf(name, sizeof name, "best:%s", s.slots[i].name);
          const CkptTensor *t = ckpt_find(&ck, name);
          if (t && shape_eq(t->shape, s.slots[i].shape))
            memcpy(best[i], t->data, sizeof(float) * (size_t)shape_numel(t->shape));
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
  flush_denormals();
  struct sigaction sa = {.sa_handler = on_sigint}, old_sa;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);
  interrupted = 0;

  perm = xmalloc(sizeof(int) * (size_t)(ntrain > 0 ? ntrain : 1));
  const char *save_path = cli_get(c, "save");
  bool stopped_early = false;
  double train_seconds = 0;
  int64_t samples_done = 0;
  while (pos.epoch < tc->epochs && !interrupted && !stopped_early) {
    Rng epoch_rng = rng;  /* a checkpoint mid-epoch stores this to replay the same order */
    for (int i = 0; i < ntrain; i++) perm[i] = i;
    if (has_batch && tc->shuffle) rng_shuffle(&rng, perm, ntrain);
    int first = (int)(pos.step - pos.epoch * steps_per_epoch);
    if (first < 0 || first >= steps_per_epoch) first = 0;
    Metrics tm = {0};
    bool partial = false;
    double e0 = now_seconds(), last_draw = 0;
    for (int k = first; k < steps_per_epoch; k++) {
      int start = k * B, n = has_batch ? (ntrain - start < B ? ntrain - start : B) : 0;
      Compiled *g = n == B ? step : step_rem;
      session_run(&s, g, has_batch ? &d.train : NULL, perm + start, n);
      session_accumulate(&s, g, has_batch ? &d.train : NULL, perm + start, n, &tm);
      pos.step++;
      float loss = jit_output(g->jit, "loss")[0];
      if (!isfinite(loss)) {
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
        partial = true;
        break;
      }
    }
    if (partial) break;
    double secs = now_seconds() - e0;
    train_seconds += secs;
    samples_done += tm.n;
    pos.epoch++;
    pos.rng = rng;
    tm.loss /= (double)(tm.n ? tm.n : 1);
    tm.accuracy = s.nclasses > 0 && tm.n ? (double)tm.correct / (double)tm.n : NAN;
    Metrics vm = {.accuracy = NAN};
    if (d.has_val && !session_evaluate(&s, &d.val, B, &vm, err, sizeof err)) {
      fprintf(stderr, "nnc: %s\n", err);
      goto restore_signal;
    }
    if (!rep.quiet) {
      printf("%sepoch %lld/%d", rep.live ? "\r\033[K" : "", (long long)pos.epoch, tc->epochs);
      session_print_metrics("train", &tm);
      if (d.has_val) session_print_metrics("val", &vm);
      printf("  %.0f samples/s  %.1f s\n", (double)tm.n / secs, secs);
      fflush(stdout);
    }
    if (log) {
      fprintf(log, "{\"epoch\": %lld, \"step\": %lld, \"train_loss\": %.9g", (long long)pos.epoch,
              (long long)pos.step, tm.loss);
      if (!isnan(tm.accuracy)) fprintf(log, ", \"train_accuracy\": %.9g", tm.accuracy);
      if (d.has_val) fprintf(log, ", \"val_loss\": %.9g", vm.loss);
      if (d.has_val && !isnan(vm.accuracy)) fprintf(log, ", \"val_accuracy\": %.9g", vm.accuracy);
      fprintf(log, ", \"seconds\": %.6g, \"samples_per_second\": %.6g}\n", secs, (double)tm.n / secs);
      fflush(log);
    }
    if (early) {
      if (vm.loss < pos.best_val_loss) {
        pos.best_val_loss = vm.loss;
        pos.bad_epochs = 0;
        for (int i = 0; i < s.nslots; i++)
          memcpy(best[i], s.slots[i].data, sizeof(float) * (size_t)shape_numel(s.slots[i].shape));
      } else if (++pos.bad_epochs >= tc->patience) {
        for (int i = 0; i < s.nslots; i++)
          memcpy(s.slots[i].data, best[i], sizeof(float) * (size_t)shape_numel(s.slots[i].shape));
        printf("early stopping: no validation improvement for %d epochs; restored the weights of the best epoch "
               "(validation loss %s)\n",
               tc->patience, session_loss_str(pos.best_val_loss, (char[32]){0}));
        stopped_early = true;
      }
    }
    if (save_path && save_every && pos.epoch % save_every == 0 && pos.epoch < tc->epochs && !stopped_early) {
      if (!save_checkpoint(&s, save_path, &pos, best)) goto restore_signal;
    }
    if (stopped_early) break;
  }
  if (rep.live && interrupted && !rep.quiet) printf("\n");
  if (interrupted) {
    const char *path = save_path ? save_path : arena_printf(f.arena, "%s.interrupted.ckpt", m->name);
    if (save_checkpoint(&s, path, &pos, best))
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
    if (!save_checkpoint(&s, save_path, &pos, best)) goto restore_signal;
    if (!rep.quiet) printf("saved %s\n", save_path);
  }
  status = 0;
restore_signal:
  sigaction(SIGINT, &old_sa, NULL);
done:
  if (best)
    for (int i = 0; i < s.nslots; i++) free(best[i]);
  free(best);
  free(perm);
  if (log) fclose(log);
  data_release(&d);
  session_free(&s);
  front_free(&f);
  return status;
}
