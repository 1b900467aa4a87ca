/* draw: cairo surfaces by file type, encoded in memory and written by outfile. */
#include "draw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairo_api.h"
#include "outfile.h"
#include "util.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool canvas_name_ok(const char *path, char *err, size_t errlen) {
  if (!ends_with(path, ".png") && !ends_with(path, ".svg") && !ends_with(path, ".pdf"))
    return errorf(err, errlen, "%s: the picture's name must end in .png, .svg or .pdf", path);
  char why[600];
  return cairo_api_load(why, sizeof why) || errorf(err, errlen, "%s: cannot draw: %s", path, why);
}

/* cairo's write callback: appends to the canvas's byte buffer. */
static cairo_status_t collect(void *closure, const unsigned char *data, unsigned int n) {
  Canvas *c = closure;
  if (c->len + n > c->cap) {
    c->cap = (c->len + n) * 2;
    c->bytes = xrealloc(c->bytes, c->cap);
  }
  memcpy(c->bytes + c->len, data, n);
  c->len += n;
  return CAIRO_STATUS_SUCCESS;
}

bool canvas_open(Canvas *c, const char *path, int width, int height, char *err, size_t errlen) {
  *c = (Canvas){.path = path, .width = width, .height = height};
  if (!canvas_name_ok(path, err, errlen) || !outfile_check(path, err, errlen)) return false;
  c->format = ends_with(path, ".png") ? DRAW_PNG : ends_with(path, ".svg") ? DRAW_SVG : DRAW_PDF;
  switch (c->format) {
  case DRAW_PNG: c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height); break;
  case DRAW_SVG: c->surface = cairo_svg_surface_create_for_stream(collect, c, width, height); break;
  case DRAW_PDF: c->surface = cairo_pdf_surface_create_for_stream(collect, c, width, height); break;
  }
  cairo_status_t st = cairo_surface_status(c->surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(c->surface);
    *c = (Canvas){0};
    return errorf(err, errlen, "%s: cannot draw: %s", path, cairo_status_to_string(st));
  }
  c->cr = cairo_create(c->surface);
  cairo_set_source_rgb(c->cr, 1, 1, 1);
  cairo_paint(c->cr);
  return true;
}

bool canvas_close(Canvas *c, char *err, size_t errlen) {
  cairo_status_t st = cairo_status(c->cr);
  cairo_destroy(c->cr);
  if (st == CAIRO_STATUS_SUCCESS && c->format == DRAW_PNG) st = cairo_surface_write_to_png_stream(c->surface, collect, c);
  cairo_surface_finish(c->surface);
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(c->surface);
  cairo_surface_destroy(c->surface);
  bool ok = st == CAIRO_STATUS_SUCCESS ? outfile_write(c->path, c->bytes, c->len, err, errlen)
                                       : errorf(err, errlen, "%s: cannot draw: %s", c->path, cairo_status_to_string(st));
  free(c->bytes);
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
