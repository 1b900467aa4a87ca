/* draw: a cairo canvas that becomes a PNG, SVG or PDF file, for pictures of
 * training (plot.c) and of predictions (show.c).
 *
 * The format comes from the output name's extension.  The file is written
 * under a temporary name next to it and renamed at the end, so a failed
 * drawing never leaves half a picture where the old one was.  Every failure
 * (unknown extension, unwritable directory, cairo error) is a message
 * "PATH: reason", never a crash.
 */
#ifndef NNC_DRAW_H
#define NNC_DRAW_H

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { DRAW_PNG, DRAW_SVG, DRAW_PDF } DrawFormat;

typedef struct {
  const char *path;           /* where the picture goes */
  char *tmp;                  /* the temporary name it is written under (heap) */
  DrawFormat format;          /* from the extension */
  cairo_surface_t *surface;   /* the drawing target */
  cairo_t *cr;                /* the context to draw with (white background already painted) */
  int width, height;          /* in pixels (points for SVG and PDF) */
} Canvas;

/* Starts a width x height picture for path; false with "PATH: reason". */
bool canvas_open(Canvas *c, const char *path, int width, int height, char *err, size_t errlen);
/* Finishes the file and renames it into place; false with the reason (the
 * temporary file is removed).  Always releases the canvas. */
bool canvas_close(Canvas *c, char *err, size_t errlen);

/* Text helpers: size in pixels; align 0 left, 0.5 centred, 1 right of x;
 * y is the baseline. */
void canvas_text(Canvas *c, double x, double y, double size, double align, const char *text);
/* A colour as 0xRRGGBB. */
void canvas_color(Canvas *c, unsigned rgb);

#endif
