/* report: what `nnc train` prints while it trains, as trainer hooks.
 *
 * On a terminal a live line shows the step, the running loss, samples/s and
 * the time left in the epoch (after-step hook); one line per epoch follows
 * with the epoch's metrics (after-epoch hook), and --log appends one JSON
 * object per epoch; a record that cannot be written stops the run.  --quiet keeps only the results.
 */
#ifndef NNC_REPORT_H
#define NNC_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "outfile.h"
#include "trainer.h"

typedef struct {
  bool quiet;         /* --quiet: no per-epoch lines */
  bool live;          /* stdout is a terminal: redraw one progress line */
  OutLog log;         /* --log FILE (log.f NULL without) */
  double last_draw;   /* when the live line was last drawn */
  bool drawn;         /* the live line is on screen (a newline must end it) */
} Reporter;

/* Opens --log (appending); false with a message printed. */
bool report_open(Reporter *r, bool quiet, const char *log_path);
/* Registers the progress, epoch-line and JSON hooks on t. */
void report_attach(Reporter *r, Trainer *t);
/* Ends a live line left on screen (before a message on another line). */
void report_break_line(Reporter *r);
/* Closes the log; false (message printed) if a record did not reach it. */
bool report_close(Reporter *r);

#endif
