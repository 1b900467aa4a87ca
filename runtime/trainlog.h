/* trainlog: reading the JSON log `nnc train --log FILE` writes, for pictures.
 *
 * The log is JSON Lines: one flat object per line (docs/training.md lists
 * the keys).  This reader keeps every numeric key as a column over the
 * lines, so a key added to the log later needs no change here: a line
 * without a key holds NAN in its column (JSON null reads as NAN too).
 * String values (an "event" line) are kept per line.  Anything else a flat
 * object may hold (true, false, nested values) is skipped.
 *
 * A malformed line is an error "FILE:LINE: reason", never a crash.
 */
#ifndef NNC_TRAINLOG_H
#define NNC_TRAINLOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef struct {
  const char *key;    /* JSON key */
  double *v;          /* one value per line, NAN where the line has none */
} LogColumn;

typedef struct {
  int nlines;         /* records (non-blank lines) */
  LogColumn *cols;    /* numeric keys in first-seen order */
  int ncols;          /* how many */
  char **event;       /* per line: the "event" string, or NULL */
  Arena *arena;       /* owns keys, strings and arrays */
} TrainLog;

/* Reads path; false with "PATH[:LINE]: reason" in err (and *log empty). */
bool trainlog_read(const char *path, TrainLog *log, char *err, size_t errlen);
/* The same from text[0..len) already in memory; name is for messages. */
bool trainlog_parse(const char *text, size_t len, const char *name, TrainLog *log, char *err, size_t errlen);
void trainlog_free(TrainLog *log);

/* The column of key, or NULL when no line has it as a number. */
const double *trainlog_column(const TrainLog *log, const char *key);

#endif
