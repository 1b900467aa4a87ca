/* diag: user-facing diagnostics, GCC-shaped so editors and tests can read them.
 *
 *   model.nn:12:17: error: dense expects [784], got [28,28]
 *      12 |   h = dense(x, 256)
 *         |             ^
 *
 * Library code reports through a Diag and keeps going where it can; only main
 * decides to stop (after a stage, when diag_errors() > 0).  Output goes to the
 * Diag's stream so tests can capture it.  After DIAG_MAX_ERRORS errors further
 * ones are counted but not printed.
 */
#ifndef NNC_DIAG_H
#define NNC_DIAG_H

#include <stdio.h>

#include "util.h"

/* A place in a source file: 1-based line and column (columns count bytes). */
typedef struct {
  const char *file;   /* file name as given by the user; NULL for "no place" */
  int line;           /* 1-based; 0 when unknown */
  int col;            /* 1-based; 0 when unknown */
} Loc;

/* A source text that diagnostics can quote lines from. */
typedef struct {
  const char *name;   /* file name as given by the user */
  const char *text;   /* whole contents, NUL-terminated */
  size_t len;         /* bytes in text */
} Source;

enum { DIAG_MAX_ERRORS = 20 };

typedef struct {
  FILE *out;            /* where messages go (stderr in the tool) */
  const Source *src;    /* for quoting lines; may be NULL */
  int nerrors;          /* errors reported so far */
  int nwarnings;        /* warnings reported so far */
} Diag;

void diag_init(Diag *d, FILE *out, const Source *src);
void diag_error(Diag *d, Loc at, const char *fmt, ...) PRINTF_LIKE(3, 4);
void diag_warning(Diag *d, Loc at, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* A note attached to the previous error (printed only if that one was). */
void diag_note(Diag *d, Loc at, const char *fmt, ...) PRINTF_LIKE(3, 4);
void diag_verror(Diag *d, Loc at, const char *fmt, va_list ap);
int diag_errors(const Diag *d);

#endif
