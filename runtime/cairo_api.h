/* cairo_api: the cairo functions nnc draws with, found in libcairo.so.2 when
 * the first canvas opens (canvas_open) instead of linked.  Linked, cairo and
 * the ~16 libraries it needs (fontconfig, freetype, X11, ...) cost every nnc
 * process about 8 ms before main, pictures or not (`nnc --version` 25.5 ->
 * 16.8 ms on an AMD Zen 5 guest).  draw.c, plot.c and show.c include this
 * header; each cairo function they call is then a macro for its pointer in
 * cairo_api, which canvas_open fills before any drawing.  A function newly
 * used goes into CAIRO_FUNCTIONS and the list of macros. */
#ifndef NNC_CAIRO_API_H
#define NNC_CAIRO_API_H

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

/* Expanded only here and in cairo_api.c, where the names are not yet macros. */
#define CAIRO_FUNCTIONS(X) \
  X(cairo_arc) \
  X(cairo_create) \
  X(cairo_destroy) \
  X(cairo_fill) \
  X(cairo_get_source) \
  X(cairo_image_surface_create) \
  X(cairo_image_surface_get_data) \
  X(cairo_image_surface_get_stride) \
  X(cairo_line_to) \
  X(cairo_move_to) \
  X(cairo_paint) \
  X(cairo_pattern_set_filter) \
  X(cairo_pdf_surface_create_for_stream) \
  X(cairo_rectangle) \
  X(cairo_restore) \
  X(cairo_save) \
  X(cairo_scale) \
  X(cairo_select_font_face) \
  X(cairo_set_dash) \
  X(cairo_set_font_size) \
  X(cairo_set_line_width) \
  X(cairo_set_source_rgb) \
  X(cairo_set_source_rgba) \
  X(cairo_set_source_surface) \
  X(cairo_show_text) \
  X(cairo_status) \
  X(cairo_status_to_string) \
  X(cairo_stroke) \
  X(cairo_surface_destroy) \
  X(cairo_surface_finish) \
  X(cairo_surface_mark_dirty) \
  X(cairo_surface_status) \
  X(cairo_surface_write_to_png_stream) \
  X(cairo_svg_surface_create_for_stream) \
  X(cairo_text_extents) \
  X(cairo_translate)

typedef struct {
#define CAIRO_POINTER(f) __typeof__(f) *f;
  CAIRO_FUNCTIONS(CAIRO_POINTER)
#undef CAIRO_POINTER
} CairoApi;
extern CairoApi cairo_api;

/* Finds every function of CAIRO_FUNCTIONS, once per process; false with the
 * reason (cairo not installed, or too old). */
bool cairo_api_load(char *err, size_t errlen);

#ifndef CAIRO_API_TABLE   /* cairo_api.c fills the table by the real names */
#define cairo_arc (cairo_api.cairo_arc)
#define cairo_create (cairo_api.cairo_create)
#define cairo_destroy (cairo_api.cairo_destroy)
#define cairo_fill (cairo_api.cairo_fill)
#define cairo_get_source (cairo_api.cairo_get_source)
#define cairo_image_surface_create (cairo_api.cairo_image_surface_create)
#define cairo_image_surface_get_data (cairo_api.cairo_image_surface_get_data)
#define cairo_image_surface_get_stride (cairo_api.cairo_image_surface_get_stride)
#define cairo_line_to (cairo_api.cairo_line_to)
#define cairo_move_to (cairo_api.cairo_move_to)
#define cairo_paint (cairo_api.cairo_paint)
#define cairo_pattern_set_filter (cairo_api.cairo_pattern_set_filter)
#define cairo_pdf_surface_create_for_stream (cairo_api.cairo_pdf_surface_create_for_stream)
#define cairo_rectangle (cairo_api.cairo_rectangle)
#define cairo_restore (cairo_api.cairo_restore)
#define cairo_save (cairo_api.cairo_save)
#define cairo_scale (cairo_api.cairo_scale)
#define cairo_select_font_face (cairo_api.cairo_select_font_face)
#define cairo_set_dash (cairo_api.cairo_set_dash)
#define cairo_set_font_size (cairo_api.cairo_set_font_size)
#define cairo_set_line_width (cairo_api.cairo_set_line_width)
#define cairo_set_source_rgb (cairo_api.cairo_set_source_rgb)
#define cairo_set_source_rgba (cairo_api.cairo_set_source_rgba)
#define cairo_set_source_surface (cairo_api.cairo_set_source_surface)
#define cairo_show_text (cairo_api.cairo_show_text)
#define cairo_status (cairo_api.cairo_status)
#define cairo_status_to_string (cairo_api.cairo_status_to_string)
#define cairo_stroke (cairo_api.cairo_stroke)
#define cairo_surface_destroy (cairo_api.cairo_surface_destroy)
#define cairo_surface_finish (cairo_api.cairo_surface_finish)
#define cairo_surface_mark_dirty (cairo_api.cairo_surface_mark_dirty)
#define cairo_surface_status (cairo_api.cairo_surface_status)
#define cairo_surface_write_to_png_stream (cairo_api.cairo_surface_write_to_png_stream)
#define cairo_svg_surface_create_for_stream (cairo_api.cairo_svg_surface_create_for_stream)
#define cairo_text_extents (cairo_api.cairo_text_extents)
#define cairo_translate (cairo_api.cairo_translate)
#endif

#endif
