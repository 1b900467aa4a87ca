/* train: `nnc train`, the command around the Trainer (trainer.h).
 *
 * Checks the options against the model, builds the trainer, restores a
 * checkpoint when asked, attaches the reporter's and the periodic save's
 * hooks, runs with Ctrl-C turned into "finish the step, save, exit 130", and
 * prints the results.
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

#include "cli.h"
#include "dist.h"
#include "draw.h"
#include "lower.h"
#include "outfile.h"
#include "pipeline.h"
#include "report.h"
#include "trainer.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

typedef struct {
  const char *file;         /* the .nn file */
  const char *save;         /* --save, or NULL */
  long long save_every;     /* --save-every (0: off) */
  long long limit;          /* --limit (0: all) */
  long long threads;        /* --threads (0: every CPU allowed) */
  const char *resume;       /* --resume, or NULL */
  const char *init;         /* --init, or NULL */
  const char *plot;         /* --plot, or NULL */
  bool quiet;               /* --quiet */
  TrainerRanks ranks;       /* under MPI: this rank and the run's size (else 0 of 0) */
} TrainArgs;

/* Files a run reads: the model, every data file and the checkpoint it
 * starts from (an IDX prefix stands for its images and labels files). */
typedef struct {
  int n;
  char path[20][4096];
} ReadFiles;

static void add_read(ReadFiles *r, const char *path) {
  if (path && r->n < (int)COUNT_OF(r->path)) snprintf(r->path[r->n++], sizeof r->path[0], "%s", path);
}

static void add_data(ReadFiles *r, const DataSpec *d) {
  add_read(r, d->images);
  add_read(r, d->labels);
  if (d->format != DATA_IDX || !d->path) {
    add_read(r, d->path);
    return;
  }
  static const char *const stems[] = {"-images-idx3-ubyte", "-images-idx3-ubyte.gz", "-labels-idx1-ubyte",
                                      "-labels-idx1-ubyte.gz", ""};
  for (size_t i = 0; i < COUNT_OF(stems) && r->n < (int)COUNT_OF(r->path); i++)
    snprintf(r->path[r->n++], sizeof r->path[0], "%s%s", d->path, stems[i]);
}

/* No output may replace a file the run reads, nor another output (--save
 * over the checkpoint it resumes from is how a run continues, and allowed). */
static bool outputs_distinct(const Model *m, const TrainArgs *a, const char *log) {
  ReadFiles r = {0};
  add_read(&r, a->file);
  add_read(&r, a->init);
  add_data(&r, &m->train.data);
  add_data(&r, &m->train.validation);
  add_data(&r, &m->train.test);
  const char *out[3] = {a->save, log, a->plot}, *flag[3] = {"--save", "--log", "--plot"};
  for (int i = 0; i < 3; i++) {
    for (int k = 0; out[i] && k < r.n; k++)
      if (outfile_same(out[i], r.path[k])) {
        fprintf(stderr, "nnc train: %s %s would replace %s, which this run reads; give it another name\n", flag[i],
                out[i], r.path[k]);
        return false;
      }
    for (int k = i + 1; out[i] && k < 3; k++)
      if (out[k] && outfile_same(out[i], out[k])) {
        fprintf(stderr, "nnc train: %s and %s both name %s; give each its own file\n", flag[i], flag[k], out[k]);
        return false;
      }
    if (i > 0 && out[i] && a->resume && outfile_same(out[i], a->resume)) {
      fprintf(stderr, "nnc train: %s %s would replace the checkpoint this run resumes from; give it another name\n",
              flag[i], out[i]);
      return false;
    }
  }
  return true;
}

/* The options and what the model needs, checked before anything is loaded. */
static bool check_args(const Cli *c, const Model *m, TrainArgs *a) {
  *a = (TrainArgs){.file = c->pos[0], .save = cli_get(c, "save"), .resume = cli_get(c, "resume"),
                   .init = cli_get(c, "init"), .plot = cli_get(c, "plot"), .quiet = cli_flag(c, "quiet"),
                   .ranks = a->ranks};
  bool has_batch = m->ninputs + m->ntargets > 0;
  if (!has_batch && a->ranks.size) {
    fprintf(stderr, "%s: error: %s has no inputs, so no batch to spread over MPI ranks; train it in one process\n",
            a->file, m->name);
    return false;
  }
  if (has_batch && m->ninputs == 0) {
    fprintf(stderr, "%s: error: nnc train feeds the model's inputs from the data, but %s has no input\n", a->file,
            m->name);
    return false;
  }
  if (has_batch && (!m->has_train || m->train.data.format == DATA_NONE)) {
    fprintf(stderr, "%s: error: nothing to train on: add a train block with data = idx(...) or csv(...)\n", a->file);
    return false;
  }
  if (!cli_int(c, "save-every", 1, 1000000, &a->save_every) || !cli_int(c, "limit", 1, INT_MAX, &a->limit) ||
      !cli_int(c, "threads", 1, 1024, &a->threads))
    return false;
  if (a->save_every && !a->save) {
    fprintf(stderr, "nnc train: --save-every needs --save FILE to know where to write\n");
    return false;
  }
  if (a->resume && a->init) {
    fprintf(stderr, "nnc train: --resume continues a run and --init starts a new one; give one of them\n");
    return false;
  }
  if (cli_flag(c, "log-append") && !cli_get(c, "log")) {
    fprintf(stderr, "nnc train: --log-append needs --log FILE to know which log to add to\n");
    return false;
  }
  char err[1024];
  if (a->plot && !(canvas_name_ok(a->plot, err, sizeof err) && outfile_check(a->plot, err, sizeof err))) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  return outputs_distinct(m, a, cli_get(c, "log"));
}

static void print_overrides(const Cli *c) {
  const char *overrides[] = {"epochs", "batch", "lr", "seed"};
  for (size_t i = 0; i < COUNT_OF(overrides); i++)
    if (cli_get(c, overrides[i])) printf("override: %s = %s\n", overrides[i], cli_get(c, overrides[i]));
  fflush(stdout);   /* before any error about the run, also when both go to one file */
}

/* A resumed run with no epoch left to train says so, before any start line. */
static bool finished_already(const Trainer *t) {
  if (t->pos.epoch >= t->m->train.epochs) {
    fprintf(stderr, "nnc: the checkpoint has already trained %lld epoch%s; nothing to do for --epochs %d\n",
            (long long)t->pos.epoch, t->pos.epoch == 1 ? "" : "s", t->m->train.epochs);
    return true;
  }
  if (t->best && t->pos.bad_epochs >= t->m->train.patience) {
    fprintf(stderr, "nnc: the checkpoint's run already stopped early at epoch %lld (no validation improvement for "
            "%lld epochs); nothing to do (a larger patience continues it)\n",
            (long long)t->pos.epoch, (long long)t->pos.bad_epochs);
    return true;
  }
  return false;
}

/* --resume or --init, said aloud. */
static bool restore(Trainer *t, const TrainArgs *a) {
  const char *path = a->resume ? a->resume : a->init;
  if (!path) return true;
  if (!trainer_restore(t, path, a->resume != NULL)) return false;
  if (a->quiet) return true;
  if (a->resume) printf("resumed from %s: epoch %lld, step %lld\n", path, (long long)t->pos.epoch, (long long)t->pos.step);
  else printf("weights from %s; fresh optimizer state\n", path);
  return true;
}

static void print_start(const Trainer *t) {
  const Model *m = t->m;
  if (t->used < t->ntrain)
    printf("note: batch_norm needs 2 samples per batch; each epoch trains on %d of the %d samples\n", t->used,
           t->ntrain);
  if (t->has_batch && m->train.batch > t->batch)
    printf("note: batch %d is more than the %d training sample%s: each step takes all of them (batch %d)\n",
           m->train.batch, t->ntrain, t->ntrain == 1 ? "" : "s", t->batch);
  int n = t->ntrain;
  printf("training %s: %lld parameter%s", m->name, (long long)model_param_count(m), model_param_count(m) == 1 ? "" : "s");
  if (t->has_batch) printf(", %d sample%s", n, n == 1 ? "" : "s");
  else printf(", no inputs (one step per epoch)");
  if (t->data.has_val) printf(", %d validation", t->data.val.n);
  if (t->data.has_test) printf(", %d test", t->data.test.n);
  if (t->has_batch) printf("; batch %d", t->batch);
  printf("; %d epoch%s; compiled in %.2f s\n", m->train.epochs, m->train.epochs == 1 ? "" : "s", t->compile_seconds);
}

typedef struct {
  const char *path;         /* --save */
  long long every;          /* --save-every */
} PeriodicSave;

/* --timings: how long `nnc train` took to get through its first step, and
 * where that time went; at the end, the training's wall and CPU time (`make
 * bench` reads these lines: CPU time stays honest on a busy machine). */
typedef struct {
  double start;      /* cmd_train began */
  double ready;      /* trainer built, weights restored: the steps begin */
  double ready_cpu;  /* the process's CPU time then */
  bool shown;        /* the first step was reported */
} Timings;

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool show_first_step(Trainer *t, void *ctx) {
  Timings *f = ctx;
  if (f->shown) return true;
  f->shown = true;
  double now = pipeline_clock();
  double both = t->data_beside_compile ? fmax(t->load_seconds, t->compile_seconds) : t->load_seconds + t->compile_seconds;
  fprintf(stderr, "first step: done %.4f s after start (parse and setup %.4f, data %.4f %s compile %.4f, first step %.4f s)\n",
          now - f->start, f->ready - f->start - both, t->load_seconds, t->data_beside_compile ? "beside" : "then",
          t->compile_seconds, now - f->ready);
  return true;
}

static void show_training_time(const Trainer *t, const Timings *f) {
  fprintf(stderr, "training: %lld samples in %.4f s, %.4f s of CPU time (all threads)\n", (long long)t->samples_done,
          pipeline_clock() - f->ready, cpu_seconds() - f->ready_cpu);
}

static bool save_periodically(Trainer *t, void *ctx) {
  PeriodicSave *p = ctx;
  if (t->pos.epoch % p->every || t->pos.epoch >= t->m->train.epochs || t->stopped_early) return true;
  return trainer_checkpoint(t, p->path);
}

/* Runs with SIGINT caught: it sets the stop flag the trainer polls.  Under
 * MPI also SIGTERM, which is what mpirun sends every rank on Ctrl-C. */
static TrainStatus run_caught(Trainer *t, bool dist) {
  struct sigaction sa = {.sa_handler = on_sigint}, old, old_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  if (dist) sigaction(SIGTERM, &sa, &old_term);
  interrupted = 0;
  TrainStatus st = trainer_run(t);
  sigaction(SIGINT, &old, NULL);
  if (dist) sigaction(SIGTERM, &old_term, NULL);
  return st;
}

static void print_early_stop(const Trainer *t) {
  int pat = t->m->train.patience;
  char l[32];
  if (isfinite(t->pos.best_val_loss))
    printf("early stopping: no validation improvement for %d epoch%s; restored the weights of the best epoch "
           "(validation loss %s)\n",
           pat, pat == 1 ? "" : "s", session_loss_str(t->pos.best_val_loss, l));
  else
    printf("early stopping: no epoch had a finite validation loss in %d epoch%s; keeping the last weights\n", pat,
           pat == 1 ? "" : "s");
}

/* An input-less model's loss at its final parameters (the train step's own
 * output is the loss before its update). */
static bool print_final_loss(Trainer *t) {
  char err[1024];
  Compiled *ev = session_graph(&t->s, GRAPH_EVAL, 0, err, sizeof err);
  if (!ev) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  session_run(ev, NULL, NULL, 0);
  printf("final loss %.9g after %lld step%s\n", jit_output(ev->jit, "loss")[0], (long long)t->pos.step,
         t->pos.step == 1 ? "" : "s");
  return true;
}

/* The test metrics, or the last epoch's (after early stopping: the restored
 * weights' validation metrics), and a small model's parameters. */
static bool print_results(Trainer *t, const TrainArgs *a, Reporter *rep, bool restored) {
  if (t->data.has_test) {
    Metrics te;
    if (!trainer_evaluate(t, &t->data.test, &te)) return false;
    if (!report_test(rep, t, &te)) return false;
    printf("test");
    session_print_metrics("", &te);
    printf("  (%lld sample%s)\n", (long long)te.n, te.n == 1 ? "" : "s");
  } else if (restored && t->data.has_val) {
    Metrics va;
    if (!trainer_evaluate(t, &t->data.val, &va)) return false;
    printf("final (the restored weights)");
    session_print_metrics("val", &va);
    printf("\n");
  } else if (t->has_batch && t->last_train.n) {
    printf("final");
    session_print_metrics("train", &t->last_train);
    if (t->data.has_val) session_print_metrics("val", &t->last_val);
    printf("\n");
  }
  if (!t->has_batch && !print_final_loss(t)) return false;
  const Store *st = &t->s.store;
  for (int i = 0; model_param_count(t->m) <= 16 && i < st->n; i++) {   /* a small model: its parameters are the result */
    if (st->t[i].op != OP_PARAM) continue;
    printf("  %s =", st->t[i].name);
    for (int64_t k = 0; k < st->t[i].numel; k++) printf(" %.9g", store_data(st, &st->t[i])[k]);
    printf("\n");
  }
  const char *unit = t->has_batch ? "sample" : "step";
  if (!a->quiet && t->train_seconds > 0)
    printf("trained %lld %s%s in %.2f s (%.0f %ss/s)\n", (long long)t->samples_done, unit,
           t->samples_done == 1 ? "" : "s", t->train_seconds, (double)t->samples_done / t->train_seconds, unit);
  return true;
}

/* What the run's end means for the files and the exit status. */
static int finish(Trainer *t, const TrainArgs *a, Reporter *rep, TrainStatus st) {
  if (st == TRAIN_FAILED || st == TRAIN_INTERRUPTED) report_break_line(rep);
  if (st == TRAIN_FAILED) return 1;
  if (st == TRAIN_INTERRUPTED) {
    char fallback[512];
    snprintf(fallback, sizeof fallback, "%s.interrupted.ckpt", t->m->name);
    const char *path = a->save ? a->save : fallback;
    if (trainer_checkpoint(t, path) && a->ranks.rank == 0) fprintf(stderr, "nnc: interrupted; saved %s (resume with --resume %s)\n", path, path);
    return 130;
  }
  if (st == TRAIN_STOPPED_EARLY) print_early_stop(t);
  bool restored = st == TRAIN_STOPPED_EARLY && isfinite(t->pos.best_val_loss);
  if (!print_results(t, a, rep, restored)) return 1;
  if (a->save) {
    if (!trainer_checkpoint(t, a->save)) return 1;
    if (!a->quiet) printf("saved %s\n", a->save);
  }
  if (a->plot) {
    if (!report_plot(rep, a->plot, t->m->name)) return 1;
    if (!a->quiet) printf("plotted %s\n", a->plot);
  }
  return 0;
}

/* Under MPI (--mpi, or started by mpirun): joins the job; a rank other than
 * 0 prints nothing on standard output and writes no file. */
static bool join_ranks(const Cli *c, TrainArgs *a) {
  *a = (TrainArgs){0};
  if (!cli_flag(c, "mpi") && !dist_launched()) return true;
  if (!dist_start(&a->ranks)) return false;
  if (a->ranks.rank != 0 && !freopen("/dev/null", "w", stdout)) return false;
  return true;
}

/* What a rank other than 0 leaves to rank 0: the log, the plot, the lock. */
static void silence_rank(TrainArgs *a, ReportOptions *ro) {
  if (a->ranks.rank == 0) return;
  ro->log = NULL;
  ro->keep = false;
  a->plot = NULL;
}

int cmd_train(const Cli *c) {
  Timings times = {.start = pipeline_clock()};
  Front f = {0};
  Trainer t = {0};
  Reporter rep = {0};
  TrainArgs a;
  OutLock lock = {.fd = -1};   /* on the --save path, for the whole run */
  int status = 1;
  char err[1024];
  if (!join_ranks(c, &a)) return 1;
  bool dist = a.ranks.size > 0;
  if (!front_load(&f, c->pos[0], c) || !check_args(c, f.model, &a) ||
      !front_check_batch(&f, lower_has_batch(f.model) ? f.model->train.batch : 0))
    goto done;
  if (a.save && a.ranks.rank == 0 &&
      !(outfile_check(a.save, err, sizeof err) && outfile_lock(&lock, a.save, err, sizeof err))) {
    fprintf(stderr, "nnc: %s\n", err);
    goto done;
  }
  /* a resumed run continues its log rather than wiping the epochs before it */
  ReportOptions ro = {a.quiet, cli_get(c, "log"), cli_flag(c, "log-append") || a.resume, a.plot != NULL};
  silence_rank(&a, &ro);
  if (!report_open(&rep, &ro)) goto done;
  print_overrides(c);
  TrainerOptions opt = {.limit = a.limit, .stop = &interrupted, .threads = (int)a.threads,
                        .no_cache = cli_flag(c, "no-cache"), .split = cli_flag(c, "split-step") || dist,
                        .ranks = a.ranks};
  if (!trainer_init(&t, f.model, a.file, &opt) || !restore(&t, &a)) goto done;
  if (dist) dist_attach(&t, &interrupted);
  if (cli_flag(c, "timings")) {
    fprintf(stderr, "compile stages: ");
    pipeline_print_times(stderr);
    trainer_hook(&t, TRAINER_AFTER_STEP, show_first_step, &times);
  }
  if (finished_already(&t)) {   /* --save still gets the checkpoint asked for */
    status = a.save && !trainer_checkpoint(&t, a.save) ? 1 : 0;
    if (a.save && status == 0 && !a.quiet) printf("saved %s\n", a.save);
    goto done;
  }
  if (!a.quiet) print_start(&t);
  report_attach(&rep, &t);
  PeriodicSave ps = {a.save, a.save_every};
  if (a.save_every) trainer_hook(&t, TRAINER_AFTER_EPOCH, save_periodically, &ps);
  times.ready = pipeline_clock();
  times.ready_cpu = cpu_seconds();
  bool profile = cli_flag(c, "profile") && t.step;
  if (profile) jit_profile(t.step->jit, true);
  if (profile && t.update) jit_profile(t.update->jit, true);
  TrainStatus st = run_caught(&t, dist);
  if (cli_flag(c, "timings")) show_training_time(&t, &times);
  if (cli_flag(c, "timings") && dist) dist_print_timings(stderr);
  status = finish(&t, &a, &rep, st);
  if (profile) jit_print_profile(stderr, t.step->jit);
  if (profile && t.update) jit_print_profile(stderr, t.update->jit);
done:
  if (!report_close(&rep) && status == 0) status = 1;
  outfile_unlock(&lock);
  trainer_free(&t);
  front_free(&f);
  if (dist && status != 0 && status != 130) dist_abort(status);
  if (dist) dist_finish();
  return status;
}
