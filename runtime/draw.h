/* draw: a cairo canvas that becomes a PNG, SVG or PDF file, for pictures of
 * training (plot.c) and of predictions (show.c).
 *
 * The format comes from the output name's extension.  The picture is drawn
 * into memory and written whole at the end like every file nnc writes
 * (outfile.h), so a failed drawing never leaves half a picture where the old
 * one was.  Every failure (unknown extension, unwritable path, cairo error)
 * is a message "PATH: reason", never a crash.
 */
#ifndef NNC_DRAW_H
#define NNC_DRAW_H

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { DRAW_PNG, DRAW_SVG, DRAW_PDF } DrawFormat;

typedef struct {
  const char *path;           /* where the picture goes */
  DrawFormat format;          /* from the extension */
  char *bytes;                /* the encoded file as cairo writes it (SVG, PDF; PNG at the end) */
  size_t len, cap;            /* bytes used and allocated */
  cairo_surface_t *surface;   /* the drawing target */
  cairo_t *cr;                /* the context to draw with (white background already painted) */
  int width, height;          /* in pixels (points for SVG and PDF) */
} Canvas;

/* Whether path names a format canvas_open can write and cairo is there to
 * draw it (checked before a long run, not after it); false with "PATH:
 * reason". */
bool canvas_name_ok(const char *path, char *err, size_t errlen);
/* Starts a width x height picture for path; false with "PATH: reason". */
bool canvas_open(Canvas *c, const char *path, int width, int height, char *err, size_t errlen);
/* Encodes the picture and writes the file; false with the reason (the old
 * file, if any, is untouched).  Always releases the canvas. */
bool canvas_close(Canvas *c, char *err, size_t errlen);

/* Text helpers: size in pixels; align 0 left, 0.5 centred, 1 right of x;
 * y is the baseline. */
void canvas_text(Canvas *c, double x, double y, double size, double align, const char *text);
/* A colour as 0xRRGGBB. */
void canvas_color(Canvas *c, unsigned rgb);

#endif
