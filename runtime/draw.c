/* draw: cairo surfaces by file type, written atomically. */
#define _POSIX_C_SOURCE 200809L   /* getpid */
#include "draw.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool canvas_open(Canvas *c, const char *path, int width, int height, char *err, size_t errlen) {
  *c = (Canvas){.path = path, .width = width, .height = height};
  if (ends_with(path, ".png")) c->format = DRAW_PNG;
  else if (ends_with(path, ".svg")) c->format = DRAW_SVG;
  else if (ends_with(path, ".pdf")) c->format = DRAW_PDF;
  else return errorf(err, errlen, "%s: the picture's name must end in .png, .svg or .pdf", path);
  size_t n = strlen(path) + 32;
  c->tmp = xmalloc(n);
  snprintf(c->tmp, n, "%s.tmp.%ld", path, (long)getpid());
  switch (c->format) {
  case DRAW_PNG: c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height); break;
  case DRAW_SVG: c->surface = cairo_svg_surface_create(c->tmp, width, height); break;
  case DRAW_PDF: c->surface = cairo_pdf_surface_create(c->tmp, width, height); break;
  }
  cairo_status_t st = cairo_surface_status(c->surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    bool r = errorf(err, errlen, "%s: cannot write: %s", path,
                    st == CAIRO_STATUS_WRITE_ERROR ? strerror(errno) : cairo_status_to_string(st));
    cairo_surface_destroy(c->surface);
    free(c->tmp);
    *c = (Canvas){0};
    return r;
  }
  c->cr = cairo_create(c->surface);
  cairo_set_source_rgb(c->cr, 1, 1, 1);
  cairo_paint(c->cr);
  return true;
}

bool canvas_close(Canvas *c, char *err, size_t errlen) {
  bool ok = true;
  cairo_status_t st = cairo_status(c->cr);
  cairo_destroy(c->cr);
  if (st == CAIRO_STATUS_SUCCESS && c->format == DRAW_PNG) st = cairo_surface_write_to_png(c->surface, c->tmp);
  cairo_surface_finish(c->surface);
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(c->surface);
  cairo_surface_destroy(c->surface);
  if (st != CAIRO_STATUS_SUCCESS)
    ok = errorf(err, errlen, "%s: cannot write: %s", c->path,
                st == CAIRO_STATUS_WRITE_ERROR ? strerror(errno) : cairo_status_to_string(st));
  else if (rename(c->tmp, c->path) != 0)
    ok = errorf(err, errlen, "%s: cannot write: %s", c->path, strerror(errno));
  if (!ok) unlink(c->tmp);
  free(c->tmp);
  *c = (Canvas){0};
  return ok;
}

void canvas_text(Canvas *c, double x, double y, double size, double align, const char *text) {
  cairo_select_font_face(c->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(c->cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(c->cr, text, &e);
  cairo_move_to(c->cr, x - align * e.x_advance, y);
  cairo_show_text(c->cr, text);
}

void canvas_color(Canvas *c, unsigned rgb) {
  cairo_set_source_rgb(c->cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0, (rgb & 255) / 255.0);
}
