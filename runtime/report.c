/* report: progress lines, epoch lines and the JSON log (see report.h). */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plot.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool report_open(Reporter *r, const ReportOptions *o) {
  *r = (Reporter){.quiet = o->quiet, .live = isatty(STDOUT_FILENO), .start = now_seconds()};
  if (o->keep && !(r->mem = open_memstream(&r->records, &r->nrecords))) die("open_memstream failed");
  char err[1024];
  if (!o->log) return true;
  if (o->append ? outlog_open(&r->log, o->log, err, sizeof err) : outlog_start(&r->log, o->log, err, sizeof err))
    return true;
  fprintf(stderr, "nnc: %s\n", err);
  return false;
}

bool report_close(Reporter *r) {
  char err[1024];
  bool ok = outlog_close(&r->log, err, sizeof err);
  if (!ok && err[0]) fprintf(stderr, "nnc: %s\n", err);
  if (r->mem) fclose(r->mem);
  free(r->records);
  r->mem = NULL;
  r->records = NULL;
  return ok;
}

void report_break_line(Reporter *r) {
  if (r->drawn) printf("\n");
  r->drawn = false;
}

static void format_eta(double s, char *buf, size_t len) {
  if (!(s >= 0) || s > 1e7) s = 0;
  int t = (int)(s + 0.5);
  snprintf(buf, len, "%d:%02d", t / 60, t % 60);
}

/* The live line, at most five times a second and at the epoch's last step. */
static bool progress(Trainer *t, void *ctx) {
  Reporter *r = ctx;
  double now = now_seconds();
  bool last = t->ep.next == t->steps_per_epoch;
  if (now - r->last_draw <= 0.2 && !last) return true;
  r->last_draw = now;
  const Metrics *m = &t->ep.m;
  double rate = (double)m->n / (now - t->ep.start);
  int done = t->ep.next * t->batch < t->ntrain ? t->ep.next * t->batch : t->ntrain;
  char eta[32], l[32];
  format_eta((double)(t->ntrain - done) / rate, eta, sizeof eta);
  printf("\r\033[Kepoch %lld/%d [%*d/%d] loss %s  %.0f %s/s  ETA %s", (long long)t->pos.epoch + 1,
         t->m->train.epochs, (int)snprintf(NULL, 0, "%d", t->steps_per_epoch), t->ep.next, t->steps_per_epoch,
         session_loss_str(m->loss / (double)m->n, l), rate, t->has_batch ? "samples" : "steps", eta);
  fflush(stdout);
  r->drawn = true;
  return true;
}

static bool epoch_line(Trainer *t, void *ctx) {
  Reporter *r = ctx;
  printf("%sepoch %lld/%d", r->drawn ? "\r\033[K" : "", (long long)t->pos.epoch, t->m->train.epochs);
  r->drawn = false;
  session_print_metrics("train", &t->last_train);
  if (t->data.has_val) session_print_metrics("val", &t->last_val);
  if (t->m->train.schedule.kind != SCHED_NONE) printf("  lr %.3g", t->lr);
  printf("  %.0f %s/s  %.1f s\n", (double)t->epoch_samples / t->epoch_seconds, t->has_batch ? "samples" : "steps",
         t->epoch_seconds);
  fflush(stdout);
  return true;
}

/* ---- the JSON records ---- */

/* A record being built: one line of JSON, as long as it needs to be (a
 * model of many outputs has a key per output). */
typedef struct {
  char *text;   /* heap; NULL until the first add */
  size_t len, cap;
} Record;

static void add(Record *rec, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void add(Record *rec, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) die("report: cannot format a log record");
  if (rec->len + (size_t)n + 1 > rec->cap) {
    rec->cap = 2 * (rec->len + (size_t)n + 1);
    rec->text = xrealloc(rec->text, rec->cap);
  }
  va_start(ap, fmt);
  vsnprintf(rec->text + rec->len, rec->cap - rec->len, fmt, ap);
  va_end(ap);
  rec->len += (size_t)n;
}

/* JSON has no NaN or infinity: such a value is written as null. */
static void add_value(Record *rec, double v) {
  if (isfinite(v)) add(rec, "%.9g", v);
  else add(rec, "null");
}

static void add_number(Record *rec, const char *key, double v) {
  add(rec, ", \"%s\": ", key);
  add_value(rec, v);
}

/* Ends the record, writes it to the log and the in-memory copy, and
 * empties it; a record that cannot reach the log stops the run (false,
 * said). */
static bool emit(Reporter *r, Record *rec) {
  add(rec, "}\n");
  bool ok = true;
  if (r->mem) fputs(rec->text, r->mem);
  if (r->log.f) {
    fputs(rec->text, r->log.f);
    char err[1024];
    if (!(ok = outlog_flush(&r->log, err, sizeof err))) {
      report_break_line(r);
      fprintf(stderr, "nnc: %s\n", err);
    }
  }
  free(rec->text);
  *rec = (Record){0};
  return ok;
}

/* "SET_accuracy": the first output's, when the model has an accuracy; and,
 * for a model of several outputs, "SET_accuracy_TARGET" for each output
 * that has one (a regression output has none). */
static void add_accuracy(Record *rec, const char *set, const Metrics *m, bool has_accuracy) {
  if (has_accuracy) {
    add(rec, ", \"%s_accuracy\": ", set);
    add_value(rec, m->accuracy);
  }
  for (int h = 0; m->nheads > 1 && h < m->nheads; h++) {
    if (isnan(m->head_accuracy[h])) continue;
    add(rec, ", \"%s_accuracy_%s\": ", set, m->head[h]);
    add_value(rec, m->head_accuracy[h]);
  }
}

/* The epoch's record, and the early stop's when it ended the run. */
static bool json_epoch(Trainer *t, void *ctx) {
  Reporter *r = ctx;
  bool classes = t->s.metric.kind != METRIC_NONE;
  Record rec = {0};
  add(&rec, "{\"epoch\": %lld, \"step\": %lld", (long long)t->pos.epoch, (long long)t->pos.step);
  add_number(&rec, "train_loss", t->last_train.loss);
  add_accuracy(&rec, "train", &t->last_train, classes);
  if (t->data.has_val) add_number(&rec, "val_loss", t->last_val.loss);
  if (t->data.has_val) add_accuracy(&rec, "val", &t->last_val, classes);
  add_number(&rec, "lr", t->lr);
  add_number(&rec, "seconds", t->epoch_seconds);
  add_number(&rec, "samples_per_second", (double)t->epoch_samples / t->epoch_seconds);
  add_number(&rec, "wall_seconds", now_seconds() - r->start);
  if (!emit(r, &rec)) return false;
  if (!t->stopped_early) return true;
  bool restored = isfinite(t->pos.best_val_loss);
  add(&rec, "{\"event\": \"early_stop\", \"epoch\": %lld", (long long)t->pos.epoch);
  if (restored) add(&rec, ", \"best_epoch\": %lld", (long long)(t->pos.epoch - t->pos.bad_epochs));
  add_number(&rec, "best_val_loss", t->pos.best_val_loss);
  add(&rec, ", \"restored\": %s", restored ? "true" : "false");
  return emit(r, &rec);
}

bool report_test(Reporter *r, const Trainer *t, const Metrics *m) {
  if (!r->log.f && !r->mem) return true;
  Record rec = {0};
  add(&rec, "{\"event\": \"test\", \"epoch\": %lld", (long long)t->pos.epoch);
  add_number(&rec, "test_loss", m->loss);
  add_accuracy(&rec, "test", m, t->s.metric.kind != METRIC_NONE);
  add(&rec, ", \"test_samples\": %lld", (long long)m->n);
  add_number(&rec, "wall_seconds", now_seconds() - r->start);
  return emit(r, &rec);
}

bool report_plot(Reporter *r, const char *path, const char *title) {
  fflush(r->mem);
  if (r->nrecords == 0) {
    fprintf(stderr, "nnc: %s: nothing to draw: no epoch finished\n", path);
    return false;
  }
  TrainLog log;
  char err[1024];
  bool ok = trainlog_parse(r->records, r->nrecords, title, &log, err, sizeof err) &&
            plot_log(&log, path, title, err, sizeof err);
  if (log.arena) trainlog_free(&log);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  return ok;
}

void report_attach(Reporter *r, Trainer *t) {
  if (!r->quiet && r->live) trainer_hook(t, TRAINER_AFTER_STEP, progress, r);
  if (!r->quiet) trainer_hook(t, TRAINER_AFTER_EPOCH, epoch_line, r);
  if (r->log.f || r->mem) trainer_hook(t, TRAINER_AFTER_EPOCH, json_epoch, r);
}
