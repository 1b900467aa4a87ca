/* check_plot: the training log reader and the pictures drawn from it and
 * from predictions.  A plot of a known log is read back as a PNG: its size is
 * the layout's, it is not blank, and both curves' colours are in it; SVG and
 * PDF files start as their formats do; bad logs and names are refused with
 * the reason.  A grid of predictions marks the wrong one in red, and an
 * autoencoder's grid pairs each image with its reconstruction. */
#define _POSIX_C_SOURCE 200809L
#include <cairo.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "show.h"
#include "testutil.h"

static void write_text(const char *name, const char *text) {
  FILE *f = fopen(in_tmp(name), "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* Five epochs of a classifier: losses fall, accuracies rise; one null. */
static const char LOG[] =
    "{\"epoch\": 1, \"step\": 10, \"train_loss\": 1.2, \"train_accuracy\": 0.55, \"val_loss\": 1.1, \"val_accuracy\": 0.6, \"seconds\": 0.1}\n"
    "{\"epoch\": 2, \"step\": 20, \"train_loss\": 0.8, \"train_accuracy\": 0.7, \"val_loss\": 0.85, \"val_accuracy\": 0.68}\n"
    "\n"
    "{\"epoch\": 3, \"step\": 30, \"train_loss\": 0.6, \"train_accuracy\": 0.78, \"val_loss\": null, \"val_accuracy\": 0.74}\n"
    "{\"epoch\": 4, \"step\": 40, \"train_loss\": 0.5, \"train_accuracy\": 0.82, \"val_loss\": 0.7, \"val_accuracy\": 0.77}\n"
    "{\"event\": \"early stop \\\"x\\\"\", \"epoch\": 4, \"nested\": {\"a\": [1, \"]\"]}, \"flag\": true}\n";

START_TEST(test_read_log) {
  write_text("log.json", LOG);
  TrainLog log;
  char err[256] = "";
  ck_assert_msg(trainlog_read(in_tmp("log.json"), &log, err, sizeof err), "%s", err);
  ck_assert_int_eq(log.nlines, 5);
  const double *val = trainlog_column(&log, "val_loss"), *sec = trainlog_column(&log, "seconds");
  ck_assert_ptr_nonnull(val);
  ck_assert(val[0] == 1.1 && isnan(val[2]) && isnan(val[4]));
  ck_assert(sec[0] == 0.1 && isnan(sec[1]));
  ck_assert_ptr_null(trainlog_column(&log, "nested"));
  ck_assert_ptr_null(trainlog_column(&log, "missing"));
  ck_assert_str_eq(log.event[4], "early stop \"x\"");
  ck_assert_ptr_null(log.event[0]);
  trainlog_free(&log);
}
END_TEST

static const struct {
  const char *text;   /* log contents */
  const char *msg;    /* expected error after "PATH" */
} bad_logs[] = {
    {"", ": no records (is it a log written by nnc train --log?)"},
    {"{\"epoch\": 1}\nepoch 2 loss 0.5\n", ":2: expected a JSON object {...}"},
    {"{\"epoch\": 1, \"loss\" 2}\n", ":1: expected ':' after a key"},
    {"{\"epoch\": 1, \"loss\": x}\n", ":1: a value is not a number, string, true, false, null, array or object"},
    {"{\"epoch\": 1} 7\n", ":1: text after the object"},
    {"{\"epoch\": 1\n", ":1: expected ',' or '}'"},
};

START_TEST(test_bad_logs) {
  write_text("bad.json", bad_logs[_i].text);
  TrainLog log;
  char err[256], want[256];
  ck_assert(!trainlog_read(in_tmp("bad.json"), &log, err, sizeof err));
  snprintf(want, sizeof want, "%s%s", in_tmp("bad.json"), bad_logs[_i].msg);
  ck_assert_str_eq(err, want);
  ck_assert_ptr_null(log.arena);
}
END_TEST

/* Pixels of an RGB24 image that are not white, and those close to rgb. */
static void count_pixels(cairo_surface_t *s, unsigned rgb, long *inked, long *colored) {
  int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
  int stride = cairo_image_surface_get_stride(s);
  const unsigned char *data = cairo_image_surface_get_data(s);
  *inked = *colored = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint32_t px;
      memcpy(&px, data + (size_t)y * (size_t)stride + 4 * (size_t)x, 4);
      px &= 0xffffff;
      *inked += px != 0xffffff;
      int dr = (int)(px >> 16 & 255) - (int)(rgb >> 16 & 255), dg = (int)(px >> 8 & 255) - (int)(rgb >> 8 & 255),
          db = (int)(px & 255) - (int)(rgb & 255);
      *colored += dr * dr + dg * dg + db * db < 40 * 40;
    }
}

START_TEST(test_plot_png) {
  write_text("log.json", LOG);
  TrainLog log;
  char err[256] = "";
  ck_assert_msg(trainlog_read(in_tmp("log.json"), &log, err, sizeof err), "%s", err);
  ck_assert_msg(plot_log(&log, in_tmp("curves.png"), "run 1", err, sizeof err), "%s", err);
  trainlog_free(&log);
  cairo_surface_t *s = cairo_image_surface_create_from_png(in_tmp("curves.png"));
  ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
  /* two panels (loss, accuracy) of 440 x 340 under a 34-pixel title */
  ck_assert_int_eq(cairo_image_surface_get_width(s), 880);
  ck_assert_int_eq(cairo_image_surface_get_height(s), 374);
  cairo_surface_flush(s);
  long inked, blue, orange;
  count_pixels(s, 0x1f77b4, &inked, &blue);
  count_pixels(s, 0xff7f0e, &inked, &orange);
  long total = 880L * 374;
  ck_assert_msg(inked > total / 50 && inked < total / 2, "%ld of %ld pixels drawn", inked, total);
  ck_assert_msg(blue > 200 && orange > 200, "train %ld, validation %ld pixels", blue, orange);
  cairo_surface_destroy(s);
}
END_TEST

START_TEST(test_plot_svg_pdf_and_errors) {
  write_text("log.json", "{\"epoch\": 1, \"train_loss\": 2}\n{\"epoch\": 2, \"train_loss\": 1}\n");
  TrainLog log;
  char err[256] = "", want[256];
  ck_assert_msg(trainlog_read(in_tmp("log.json"), &log, err, sizeof err), "%s", err);
  const char *kinds[][2] = {{"c.svg", "<?xml"}, {"c.pdf", "%PDF-"}};
  for (int k = 0; k < 2; k++) {
    ck_assert_msg(plot_log(&log, in_tmp(kinds[k][0]), "t", err, sizeof err), "%s", err);
    char head[8] = "";
    FILE *f = fopen(in_tmp(kinds[k][0]), "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(head, 1, 5, f), 5);
    fclose(f);
    ck_assert_str_eq(head, kinds[k][1]);
  }
  ck_assert(!plot_log(&log, in_tmp("c.jpg"), "t", err, sizeof err));
  snprintf(want, sizeof want, "%s: the picture's name must end in .png, .svg or .pdf", in_tmp("c.jpg"));
  ck_assert_str_eq(err, want);
  ck_assert(!plot_log(&log, in_tmp("no/such/dir/c.png"), "t", err, sizeof err));
  ck_assert_msg(strstr(err, "no/such/dir/c.png: cannot write into ") != NULL, "%s", err);
  trainlog_free(&log);
  write_text("empty.json", "{\"epoch\": 1, \"step\": 3}\n");
  ck_assert_msg(trainlog_read(in_tmp("empty.json"), &log, err, sizeof err), "%s", err);
  ck_assert(!plot_log(&log, in_tmp("c.png"), "nothing", err, sizeof err));
  ck_assert_str_eq(err, "nothing: the log has no train_loss, val_loss or accuracy to draw");
  trainlog_free(&log);
}
END_TEST

/* Three 4x4 images of a two-class model; the third is predicted wrong. */
START_TEST(test_show_grid) {
  float images[3 * 16], outputs[3 * 2] = {2, -1, -1, 3, 0.5, 0.1};
  for (int i = 0; i < 3 * 16; i++) images[i] = (float)(i % 5);
  int truth[3] = {0, 1, 1};
  const char *names[2] = {"even", "odd"};
  MetricSpec ms = {METRIC_CLASS, 2, 2, 1, names};
  ShowGrid g = {3, 4, 4, images, NULL, outputs, 2, truth, &ms};
  char err[256] = "";
  ck_assert_msg(show_write(&g, in_tmp("grid.png"), "three", err, sizeof err), "%s", err);
  cairo_surface_t *s = cairo_image_surface_create_from_png(in_tmp("grid.png"));
  ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
  ck_assert_int_eq(cairo_image_surface_get_width(s), 3 * 128);   /* one row of three cells */
  ck_assert_int_eq(cairo_image_surface_get_height(s), 34 + 96 + 6 + 30 + 6);
  cairo_surface_flush(s);
  long inked, red;
  count_pixels(s, 0xd62728, &inked, &red);
  ck_assert_msg(red > 300 && red < 3000, "%ld red pixels: one framed, captioned image", red);
  cairo_surface_destroy(s);
  /* the same images as an autoencoder's: each cell holds the image and its reconstruction */
  MetricSpec none = {.kind = METRIC_NONE};
  ShowGrid ae = {3, 4, 4, images, images, images, 16, NULL, &none};
  ck_assert_msg(show_write(&ae, in_tmp("ae.png"), "ae", err, sizeof err), "%s", err);
  s = cairo_image_surface_create_from_png(in_tmp("ae.png"));
  ck_assert_int_eq(cairo_image_surface_get_width(s), 3 * 2 * 128);
  count_pixels(s, 0xd62728, &inked, &red);
  ck_assert_int_eq(red, 0);
  cairo_surface_destroy(s);
  int h, w;
  ck_assert(show_image_shape((int[]){784}, 1, &h, &w) && h == 28 && w == 28);
  ck_assert(show_image_shape((int[]){3, 5}, 2, &h, &w) && h == 3 && w == 5);
  ck_assert(!show_image_shape((int[]){10}, 1, &h, &w));
  ck_assert(show_image_shape((int[]){1, 28, 20}, 3, &h, &w) && h == 28 && w == 20);
  ck_assert(!show_image_shape((int[]){2, 3, 4}, 3, &h, &w));
}
END_TEST

Suite *plot_suite(void) {
  Suite *s = suite_create("plot");
  TCase *tc = tcase_create("plot");
  tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(tc, test_read_log);
  tcase_add_loop_test(tc, test_bad_logs, 0, (int)(sizeof bad_logs / sizeof bad_logs[0]));
  tcase_add_test(tc, test_plot_png);
  tcase_add_test(tc, test_plot_svg_pdf_and_errors);
  tcase_add_test(tc, test_show_grid);
  suite_add_tcase(s, tc);
  return s;
}
