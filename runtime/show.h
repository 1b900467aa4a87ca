/* show: `nnc predict --show N -o grid.png` — a picture of predictions on
 * image inputs (cairo, through draw.h).
 *
 * N samples in a grid, each image with what the model made of it: the
 * predicted class (and name) under it, the true class when the data has
 * labels, and a red frame and caption when the two differ; or, for a model
 * whose output has the input's shape (an autoencoder), the image and its
 * reconstruction side by side.  Grey levels span the smallest to the largest
 * value among the images shown.
 */
#ifndef NNC_SHOW_H
#define NNC_SHOW_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

typedef struct {
  int n;                    /* samples */
  int height, width;        /* pixels per image */
  const float *images;      /* n * height * width values, row-major */
  const float *recon;       /* n reconstructions of the same size, or NULL */
  const float *outputs;     /* n output rows of out_width floats (class models) */
  int out_width;            /* floats per output row */
  const int *truth;         /* n true classes, or NULL (no labels) */
  const MetricSpec *metric; /* how outputs are read */
} ShowGrid;

/* Whether a per-sample input shape is an image: [H, W], [1, H, W] (one
 * channel), or [n] with n a square; fills *h and *w. */
bool show_image_shape(const int *dims, int ndim, int *h, int *w);

/* Draws the grid into path (.png, .svg or .pdf) under title; false with
 * "PATH: reason" in err. */
bool show_write(const ShowGrid *g, const char *path, const char *title, char *err, size_t errlen);

#endif
