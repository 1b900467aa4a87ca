/* plot: pictures of a training run from its JSON log (`nnc plot`, and
 * `nnc train --plot` at the end of a run), drawn with cairo (draw.h). */
#ifndef NNC_PLOT_H
#define NNC_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "trainlog.h"

/* Draws the curves of log into path (.png, .svg or .pdf) under a title;
 * false with "PATH: reason" in err. */
bool plot_log(const TrainLog *log, const char *path, const char *title, char *err, size_t errlen);

#endif
