/* show: a grid of input images with their predictions (see show.h). */
#include "show.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairo_api.h"
#include "draw.h"
#include "util.h"

enum { CELL = 128, IMAGE = 96, CAPTION = 30, TITLE_H = 34, MAX_COLUMNS = 10 };
enum { COLOR_TEXT = 0x222222, COLOR_WRONG = 0xd62728 };

bool show_image_shape(const int *dims, int ndim, int *h, int *w) {
  if (ndim == 3 && dims[0] == 1) dims++, ndim--;   /* one channel, as conv2d takes it */
  if (ndim == 2) {
    *h = dims[0];
    *w = dims[1];
    return true;
  }
  int side = ndim == 1 ? (int)lround(sqrt((double)dims[0])) : 0;
  if (ndim != 1 || side * side != dims[0]) return false;
  *h = *w = side;
  return true;
}

/* The grey range of everything shown, so one image is not brightened
 * against another. */
static void grey_range(const ShowGrid *g, double *lo, double *hi) {
  size_t px = (size_t)g->n * (size_t)g->height * (size_t)g->width;
  *lo = INFINITY;
  *hi = -INFINITY;
  for (int k = 0; k < (g->recon ? 2 : 1); k++)
    for (size_t i = 0; i < px; i++) {
      double v = (k ? g->recon : g->images)[i];
      if (isfinite(v)) *lo = fmin(*lo, v), *hi = fmax(*hi, v);
    }
  if (!(*hi > *lo)) *hi = *lo + 1;
}

/* One image, scaled to IMAGE pixels on its longer side, at (x, y). */
static void draw_image(Canvas *c, const float *v, int h, int w, double lo, double hi, double x, double y) {
  cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  unsigned char *data = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  for (int r = 0; r < h; r++)
    for (int col = 0; col < w; col++) {
      double t = (v[r * w + col] - lo) / (hi - lo);
      uint32_t g = (uint32_t)lround(255 * fmin(fmax(isfinite(t) ? t : 0, 0), 1));
      uint32_t px = g << 16 | g << 8 | g;
      memcpy(data + (size_t)r * (size_t)stride + 4 * (size_t)col, &px, 4);
    }
  cairo_surface_mark_dirty(img);
  double s = (double)IMAGE / (h > w ? h : w);
  cairo_save(c->cr);
  cairo_translate(c->cr, x, y);
  cairo_scale(c->cr, s, s);
  cairo_set_source_surface(c->cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(c->cr), CAIRO_FILTER_NEAREST);
  cairo_paint(c->cr);
  cairo_restore(c->cr);
  cairo_surface_destroy(img);
  canvas_color(c, 0xbbbbbb);   /* a frame, so white pixels at the edge still show */
  cairo_set_line_width(c->cr, 1);
  cairo_rectangle(c->cr, x - 0.5, y - 0.5, s * w + 1, s * h + 1);
  cairo_stroke(c->cr);
}

/* The caption lines of sample i; returns whether the prediction is wrong. */
static bool caption(const ShowGrid *g, int i, char *line1, char *line2, size_t len) {
  const MetricSpec *ms = g->metric;
  line1[0] = line2[0] = 0;
  if (g->recon) {
    snprintf(line1, len, "input | output");
    return false;
  }
  const float *row = g->outputs + (size_t)i * (size_t)g->out_width;
  if (ms->kind == METRIC_NONE) {
    snprintf(line1, len, "output %.4g%s", row[0], g->out_width > 1 ? ", ..." : "");
    return false;
  }
  char b[160];
  int p = metrics_predicted(ms, row, 0);
  snprintf(line1, len, "%s", metrics_class_label(ms, p, b, sizeof b));
  if (!g->truth) return false;
  snprintf(line2, len, "true %s", metrics_class_label(ms, g->truth[i], b, sizeof b));
  return g->truth[i] != p;
}

/* Sample i in the cell at (x, y): image(s), a red frame when wrong, caption. */
static void draw_cell(Canvas *c, const ShowGrid *g, int i, double lo, double hi, double x, double y) {
  size_t px = (size_t)g->height * (size_t)g->width;
  int pair = g->recon ? 2 : 1;
  double iw = (double)IMAGE * g->width / (g->height > g->width ? g->height : g->width);
  double x0 = x + (CELL * pair - iw * pair - 4 * (pair - 1)) / 2.0;
  draw_image(c, g->images + (size_t)i * px, g->height, g->width, lo, hi, x0, y + 6);
  if (g->recon) draw_image(c, g->recon + (size_t)i * px, g->height, g->width, lo, hi, x0 + iw + 4, y + 6);
  char l1[200], l2[200];
  bool wrong = caption(g, i, l1, l2, sizeof l1);
  canvas_color(c, wrong ? COLOR_WRONG : COLOR_TEXT);
  if (wrong) {
    cairo_set_line_width(c->cr, 3);
    cairo_rectangle(c->cr, x0 - 2, y + 4, iw + 4, IMAGE + 4);
    cairo_stroke(c->cr);
  }
  double cx = x + CELL * pair / 2.0, cy = y + 6 + IMAGE + 14;
  canvas_text(c, cx, cy, 11, 0.5, l1);
  if (l2[0]) canvas_text(c, cx, cy + 13, 10, 0.5, l2);
}

bool show_write(const ShowGrid *g, const char *path, const char *title, char *err, size_t errlen) {
  int pair = g->recon ? 2 : 1;
  int cols = g->n < MAX_COLUMNS / pair ? g->n : MAX_COLUMNS / pair, rows = (g->n + cols - 1) / cols;
  int cell_h = IMAGE + 6 + CAPTION;
  Canvas c;
  if (!canvas_open(&c, path, cols * CELL * pair, TITLE_H + rows * cell_h + 6, err, errlen)) return false;
  double lo, hi;
  grey_range(g, &lo, &hi);
  canvas_color(&c, COLOR_TEXT);
  canvas_text(&c, cols * CELL * pair / 2.0, 22, 14, 0.5, title);
  for (int i = 0; i < g->n; i++)
    draw_cell(&c, g, i, lo, hi, (double)(i % cols) * CELL * pair, TITLE_H + (double)(i / cols) * cell_h);
  return canvas_close(&c, err, errlen);
}
