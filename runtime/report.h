/* report: what `nnc train` prints while it trains, as trainer hooks.
 *
 * On a terminal a live line shows the step, the running loss, samples/s and
 * the time left in the epoch (after-step hook); one line per epoch follows
 * with the epoch's metrics (after-epoch hook).  --quiet keeps only the
 * results.  The JSON log (--log, docs/training.md lists its keys) gets one
 * object per epoch and one per event (early stopping, the test metrics); a
 * record that cannot be written stops the run.  The same records are kept
 * in memory for --plot, which draws them at the end of the run.
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
  FILE *mem;          /* the records again, in memory for --plot, or NULL */
  char *records;      /* what mem holds (after a flush) */
  size_t nrecords;    /* its length in bytes */
  double start;       /* when the run started (wall clock for the log) */
  double last_draw;   /* when the live line was last drawn */
  bool drawn;         /* the live line is on screen (a newline must end it) */
} Reporter;

/* What the command line asks of the reporter. */
typedef struct {
  bool quiet;             /* --quiet */
  const char *log;        /* --log FILE, or NULL */
  bool append;            /* --log-append: add to FILE instead of starting it afresh */
  bool keep;              /* keep the records in memory (for --plot) */
} ReportOptions;

/* Opens the log (started afresh unless appending); false with a message printed. */
bool report_open(Reporter *r, const ReportOptions *o);
/* Registers the progress, epoch-line and JSON hooks on t. */
void report_attach(Reporter *r, Trainer *t);
/* Ends a live line left on screen (before a message on another line). */
void report_break_line(Reporter *r);
/* Logs the test metrics measured after training; false (message printed)
 * if the record did not reach the log. */
bool report_test(Reporter *r, const Trainer *t, const Metrics *m);
/* Draws the records so far into path (--plot); false with a message printed. */
bool report_plot(Reporter *r, const char *path, const char *title);
/* Closes the log; false (message printed) if a record did not reach it. */
bool report_close(Reporter *r);

#endif
