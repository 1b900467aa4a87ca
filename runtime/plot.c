/* plot: `nnc plot LOG -o curves.png` — training curves from the JSON log.
 *
 * One panel per quantity the log holds: the loss (train and validation),
 * the accuracy when the log has one, and the learning rate when it
 * changes.  Each panel has its own axes with round tick values; the x axis
 * counts epochs.  The loss axis is logarithmic when the loss spans more
 * than two decades, so the end of training is not a flat line.
 */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cairo_api.h"
#include "draw.h"

enum { PANEL_W = 440, PANEL_H = 340, TITLE_H = 34 };
enum { COLOR_TRAIN = 0x1f77b4, COLOR_VAL = 0xff7f0e, COLOR_TEST = 0x2ca02c, COLOR_LR = 0x9467bd };

typedef struct {
  const char *label;    /* legend text */
  const double *y;      /* one value per log line, NAN where absent */
  unsigned color;       /* 0xRRGGBB */
} Series;

typedef struct {
  const char *title;    /* above the panel */
  Series s[3];          /* lines drawn */
  int n;                /* how many */
  bool log_y;           /* logarithmic y axis */
  double mark;          /* an epoch to mark with a dashed line (the best one, restored), or NAN */
} Panel;

/* The data range of a panel, in axis units (log10 when log_y). */
typedef struct {
  double x0, x1, y0, y1;
} Range;

static double axis_y(const Panel *p, double v) { return p->log_y ? log10(v) : v; }

static bool usable(const Panel *p, double v) { return isfinite(v) && (!p->log_y || v > 0); }

/* A round tick step giving about `want` ticks over [lo, hi]: 1, 2 or 5 times
 * a power of ten. */
static double tick_step(double lo, double hi, int want) {
  double raw = (hi - lo) / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static Range panel_range(const Panel *p, const double *x, int n) {
  Range r = {INFINITY, -INFINITY, INFINITY, -INFINITY};
  for (int k = 0; k < p->n; k++)
    for (int i = 0; i < n; i++) {
      if (!usable(p, p->s[k].y[i]) || !isfinite(x[i])) continue;
      r.x0 = fmin(r.x0, x[i]);
      r.x1 = fmax(r.x1, x[i]);
      r.y0 = fmin(r.y0, axis_y(p, p->s[k].y[i]));
      r.y1 = fmax(r.y1, axis_y(p, p->s[k].y[i]));
    }
  if (r.x1 <= r.x0) r.x0 -= 0.5, r.x1 += 0.5;
  if (r.y1 <= r.y0) r.y0 -= 0.5, r.y1 += 0.5;
  double pad = (r.y1 - r.y0) * 0.05;
  r.y0 -= pad;
  r.y1 += pad;
  return r;
}

/* Gridlines and tick labels of both axes inside the frame (fx, fy, fw, fh). */
static void draw_axes(Canvas *c, const Panel *p, Range r, double fx, double fy, double fw, double fh) {
  cairo_t *cr = c->cr;
  char buf[32];
  cairo_set_line_width(cr, 1);
  double step = p->log_y ? 1 : tick_step(r.y0, r.y1, 5);
  for (double t = ceil(r.y0 / step) * step; t <= r.y1 + 1e-9 * step; t += step) {
    double y = fy + fh - (t - r.y0) / (r.y1 - r.y0) * fh;
    canvas_color(c, 0xe5e5e5);
    cairo_move_to(cr, fx, y);
    cairo_line_to(cr, fx + fw, y);
    cairo_stroke(cr);
    snprintf(buf, sizeof buf, "%g", p->log_y ? pow(10, t) : fabs(t) < step * 1e-6 ? 0 : t);
    canvas_color(c, 0x444444);
    canvas_text(c, fx - 6, y + 4, 11, 1, buf);
  }
  double xs = fmax(1, round(tick_step(r.x0, r.x1, 6)));
  for (double t = ceil(r.x0 / xs) * xs; t <= r.x1 + 1e-9; t += xs) {
    double x = fx + (t - r.x0) / (r.x1 - r.x0) * fw;
    canvas_color(c, 0xe5e5e5);
    cairo_move_to(cr, x, fy);
    cairo_line_to(cr, x, fy + fh);
    cairo_stroke(cr);
    snprintf(buf, sizeof buf, "%g", t);
    canvas_color(c, 0x444444);
    canvas_text(c, x, fy + fh + 16, 11, 0.5, buf);
  }
  canvas_color(c, 0x444444);
  cairo_rectangle(cr, fx, fy, fw, fh);
  cairo_stroke(cr);
  canvas_text(c, fx + fw / 2, fy + fh + 34, 12, 0.5, "epoch");
}

/* One series as a line with a dot per epoch (a lone value is a dot).  An
 * epoch not after the one before starts a new run (--log-append, a resume from
 * an earlier checkpoint): the line breaks there rather than draw back. */
static void draw_series(Canvas *c, const Panel *p, const Series *s, const double *x, int n, Range r, double fx,
                        double fy, double fw, double fh) {
  cairo_t *cr = c->cr;
  canvas_color(c, s->color);
  cairo_set_line_width(cr, 2);
  bool pen = false;
  double last = -INFINITY;
  for (int i = 0; i < n; i++) {
    if (!usable(p, s->y[i]) || !isfinite(x[i])) continue;
    double px = fx + (x[i] - r.x0) / (r.x1 - r.x0) * fw, py = fy + fh - (axis_y(p, s->y[i]) - r.y0) / (r.y1 - r.y0) * fh;
    if (pen && x[i] > last) cairo_line_to(cr, px, py);
    else cairo_move_to(cr, px, py);
    pen = true;
    last = x[i];
  }
  cairo_stroke(cr);
  for (int i = 0; i < n && n <= 100; i++) {
    if (!usable(p, s->y[i]) || !isfinite(x[i])) continue;
    double px = fx + (x[i] - r.x0) / (r.x1 - r.x0) * fw, py = fy + fh - (axis_y(p, s->y[i]) - r.y0) / (r.y1 - r.y0) * fh;
    cairo_arc(cr, px, py, 3, 0, 2 * M_PI);
    cairo_fill(cr);
  }
}

/* Whether the first series ends in the upper half of the range: then the
 * legend goes to the bottom right corner, out of the curves' way. */
static bool ends_high(const Panel *p, int n, Range r) {
  for (int i = n - 1; i >= 0; i--)
    if (usable(p, p->s[0].y[i])) return axis_y(p, p->s[0].y[i]) > (r.y0 + r.y1) / 2;
  return false;
}

/* The dashed line at the epoch whose weights early stopping restored, its
 * label at height label_y (away from the legend). */
static void draw_mark(Canvas *c, const Panel *p, Range r, double fx, double fy, double fw, double fh, double label_y) {
  if (!(p->mark >= r.x0 && p->mark <= r.x1)) return;
  double x = fx + (p->mark - r.x0) / (r.x1 - r.x0) * fw;
  canvas_color(c, 0x888888);
  cairo_set_line_width(c->cr, 1);
  cairo_set_dash(c->cr, (double[]){4, 3}, 2, 0);
  cairo_move_to(c->cr, x, fy);
  cairo_line_to(c->cr, x, fy + fh);
  cairo_stroke(c->cr);
  cairo_set_dash(c->cr, NULL, 0, 0);
  canvas_text(c, x - 3, label_y, 10, 1, "best");
}

/* A panel in the box at (x0, y0) of PANEL_W x PANEL_H. */
static void draw_panel(Canvas *c, const Panel *p, const double *x, int n, double x0, double y0) {
  double fx = x0 + 64, fy = y0 + 30, fw = PANEL_W - 64 - 16, fh = PANEL_H - 30 - 46;
  Range r = panel_range(p, x, n);
  canvas_color(c, 0x222222);
  canvas_text(c, fx + fw / 2, y0 + 20, 14, 0.5, p->title);
  draw_axes(c, p, r, fx, fy, fw, fh);
  bool legend_low = ends_high(p, n, r);
  draw_mark(c, p, r, fx, fy, fw, fh, legend_low ? fy + 12 : fy + fh - 6);
  double ly = legend_low ? fy + fh - 10 - 16 * (p->n - 1) : fy + 16;
  for (int k = 0; k < p->n; k++) draw_series(c, p, &p->s[k], x, n, r, fx, fy, fw, fh);
  cairo_set_source_rgba(c->cr, 1, 1, 1, 0.85);   /* the legend stays readable over the curves */
  cairo_rectangle(c->cr, fx + fw - 102, ly - 13, 96, 16 * p->n + 4);
  cairo_fill(c->cr);
  for (int k = 0; k < p->n; k++) {
    canvas_color(c, p->s[k].color);
    cairo_rectangle(c->cr, fx + fw - 96, ly + 16 * k - 6, 14, 4);
    cairo_fill(c->cr);
    canvas_color(c, 0x222222);
    canvas_text(c, fx + fw - 76, ly + 16 * k, 11, 0, p->s[k].label);
  }
}

/* Adds a series when the log has the key with at least one finite value. */
static void add_series(Panel *p, const TrainLog *log, const char *key, const char *label, unsigned color) {
  const double *y = trainlog_column(log, key);
  for (int i = 0; y && i < log->nlines; i++)
    if (isfinite(y[i])) {
      p->s[p->n++] = (Series){label, y, color};
      return;
    }
}

/* The epoch an early_stop event restored, or NAN. */
static double best_epoch(const TrainLog *log) {
  const double *b = trainlog_column(log, "best_epoch");
  for (int i = 0; b && i < log->nlines; i++)
    if (isfinite(b[i])) return b[i];
  return NAN;
}

/* The panels the log has data for; returns how many (at most 3). */
static int log_panels(const TrainLog *log, Panel *panels) {
  int np = 0;
  double mark = best_epoch(log);
  Panel loss = {.title = "loss", .mark = mark}, acc = {.title = "accuracy", .mark = mark},
        lr = {.title = "learning rate", .mark = NAN};
  add_series(&loss, log, "train_loss", "train", COLOR_TRAIN);
  add_series(&loss, log, "val_loss", "validation", COLOR_VAL);
  add_series(&loss, log, "test_loss", "test", COLOR_TEST);
  add_series(&acc, log, "train_accuracy", "train", COLOR_TRAIN);
  add_series(&acc, log, "val_accuracy", "validation", COLOR_VAL);
  add_series(&acc, log, "test_accuracy", "test", COLOR_TEST);
  add_series(&lr, log, "lr", "learning rate", COLOR_LR);
  double lo = INFINITY, hi = 0;
  for (int k = 0; k < loss.n; k++)
    for (int i = 0; i < log->nlines; i++)
      if (isfinite(loss.s[k].y[i]) && loss.s[k].y[i] > 0) lo = fmin(lo, loss.s[k].y[i]), hi = fmax(hi, loss.s[k].y[i]);
  loss.log_y = hi > 100 * lo;
  if (loss.n) panels[np++] = loss;
  if (acc.n) panels[np++] = acc;
  /* the rate gets a panel when it changes within a run (a schedule), not
   * merely between the runs of an appended log */
  const double *v = lr.n ? lr.s[0].y : NULL, *ep = trainlog_column(log, "epoch");
  bool changes = false;
  for (int i = 1; v && i < log->nlines; i++)
    changes |= isfinite(v[i]) && isfinite(v[i - 1]) && v[i] != v[i - 1] && (!ep || ep[i] > ep[i - 1]);
  if (changes) panels[np++] = lr;
  return np;
}

bool plot_log(const TrainLog *log, const char *path, const char *title, char *err, size_t errlen) {
  Panel panels[3];
  int np = log_panels(log, panels);
  if (np == 0) return errorf(err, errlen, "%s: the log has no train_loss, val_loss or accuracy to draw", title);
  const double *epoch = trainlog_column(log, "epoch");
  double *x = xmalloc(sizeof(double) * (size_t)log->nlines);
  for (int i = 0; i < log->nlines; i++) x[i] = epoch ? epoch[i] : i + 1;
  Canvas c;
  bool ok = canvas_open(&c, path, PANEL_W * np, PANEL_H + TITLE_H, err, errlen);
  if (ok) {
    canvas_color(&c, 0x222222);
    canvas_text(&c, PANEL_W * np / 2.0, 22, 15, 0.5, title);
    for (int k = 0; k < np; k++) draw_panel(&c, &panels[k], x, log->nlines, PANEL_W * k, TITLE_H);
    ok = canvas_close(&c, err, errlen);
  }
  free(x);
  return ok;
}

int cmd_plot(const Cli *c) {
  const char *out = cli_get(c, "output");
  if (!out) {
    fprintf(stderr, "nnc plot: -o FILE is required (a .png, .svg or .pdf name)\n");
    return 1;
  }
  TrainLog log;
  char err[1024];
  if (!trainlog_read(c->pos[0], &log, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return 1;
  }
  const char *title = cli_get(c, "title") ? cli_get(c, "title") : c->pos[0];
  bool ok = plot_log(&log, out, title, err, sizeof err);
  trainlog_free(&log);
  if (!ok) fprintf(stderr, "nnc: %s\n", err);
  return ok ? 0 : 1;
}
