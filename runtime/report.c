/* report: progress lines, epoch lines and the JSON log (see report.h). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool report_open(Reporter *r, bool quiet, const char *log_path) {
  *r = (Reporter){.quiet = quiet, .live = isatty(STDOUT_FILENO)};
  char err[1024];
  if (!log_path || outlog_open(&r->log, log_path, err, sizeof err)) return true;
  fprintf(stderr, "nnc: %s\n", err);
  return false;
}

bool report_close(Reporter *r) {
  char err[1024];
  if (outlog_close(&r->log, err, sizeof err)) return true;
  fprintf(stderr, "nnc: %s\n", err);
  return false;
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
  printf("\r\033[Kepoch %lld/%d [%*d/%d] loss %s  %.0f samples/s  ETA %s", (long long)t->pos.epoch + 1,
         t->m->train.epochs, (int)snprintf(NULL, 0, "%d", t->steps_per_epoch), t->ep.next, t->steps_per_epoch,
         session_loss_str(m->loss / (double)m->n, l), rate, eta);
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
  printf("  %.0f samples/s  %.1f s\n", (double)t->epoch_samples / t->epoch_seconds, t->epoch_seconds);
  fflush(stdout);
  return true;
}

/* JSON has no NaN or infinity: such a value is written as null. */
static void json_number(FILE *f, const char *key, double v) {
  if (isfinite(v)) fprintf(f, ", \"%s\": %.9g", key, v);
  else fprintf(f, ", \"%s\": null", key);
}

/* One record per epoch; a record that cannot be written stops the run. */
static bool json_line(Trainer *t, void *ctx) {
  Reporter *r = ctx;
  FILE *f = r->log.f;
  bool classes = t->s.nclasses > 0;
  fprintf(f, "{\"epoch\": %lld, \"step\": %lld", (long long)t->pos.epoch, (long long)t->pos.step);
  json_number(f, "train_loss", t->last_train.loss);
  if (classes) json_number(f, "train_accuracy", t->last_train.accuracy);
  if (t->data.has_val) json_number(f, "val_loss", t->last_val.loss);
  if (t->data.has_val && classes) json_number(f, "val_accuracy", t->last_val.accuracy);
  fprintf(f, ", \"seconds\": %.6g, \"samples_per_second\": %.6g}\n", t->epoch_seconds,
          (double)t->epoch_samples / t->epoch_seconds);
  char err[1024];
  if (outlog_flush(&r->log, err, sizeof err)) return true;
  report_break_line(r);
  fprintf(stderr, "nnc: %s\n", err);
  return false;
}

void report_attach(Reporter *r, Trainer *t) {
  if (!r->quiet && r->live) trainer_hook(t, TRAINER_AFTER_STEP, progress, r);
  if (!r->quiet) trainer_hook(t, TRAINER_AFTER_EPOCH, epoch_line, r);
  if (r->log.f) trainer_hook(t, TRAINER_AFTER_EPOCH, json_line, r);
}
