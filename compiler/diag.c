/* diag: formats "file:line:col: error: message", then the source line and a
 * caret under the column.  Tabs in the quoted line are kept in the caret line
 * so the caret lands under the right character in any terminal. */
#include "diag.h"

#include <string.h>

void diag_init(Diag *d, FILE *out, const Source *src) {
  *d = (Diag){.out = out, .src = src};
}

int diag_errors(const Diag *d) { return d->nerrors; }

static void quote_line(Diag *d, Loc at) {
  const Source *s = d->src;
  if (!s || !at.file || at.line <= 0 || strcmp(s->name, at.file) != 0) return;
  const char *p = s->text, *end = s->text + s->len;
  for (int line = 1; line < at.line && p < end; p++)
    if (*p == '\n') line++;
  if (p >= end && at.line > 1) return;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) eol = end;
  int width = (int)(eol - p);
  if (width > 0 && p[width - 1] == '\r') width--;
  fprintf(d->out, "%5d | %.*s\n      | ", at.line, width, p);
  int col = at.col > 0 ? at.col : 1;
  for (int i = 0; i < col - 1 && i < width; i++) fputc(p[i] == '\t' ? '\t' : ' ', d->out);
  fputs("^\n", d->out);
}

static void report(Diag *d, const char *kind, Loc at, const char *fmt, va_list ap) {
  if (at.file && at.line > 0)
    fprintf(d->out, "%s:%d:%d: %s: ", at.file, at.line, at.col > 0 ? at.col : 1, kind);
  else if (at.file)
    fprintf(d->out, "%s: %s: ", at.file, kind);
  else
    fprintf(d->out, "nnc: %s: ", kind);
  vfprintf(d->out, fmt, ap);
  fputc('\n', d->out);
  quote_line(d, at);
}

void diag_verror(Diag *d, Loc at, const char *fmt, va_list ap) {
  if (++d->nerrors > DIAG_MAX_ERRORS) {
    if (d->nerrors == DIAG_MAX_ERRORS + 1) fprintf(d->out, "nnc: too many errors, stopping here\n");
    return;
  }
  report(d, "error", at, fmt, ap);
}

void diag_error(Diag *d, Loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(d, at, fmt, ap);
  va_end(ap);
}

void diag_warning(Diag *d, Loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  d->nwarnings++;
  report(d, "warning", at, fmt, ap);
  va_end(ap);
}

void diag_note(Diag *d, Loc at, const char *fmt, ...) {
  if (d->nerrors > DIAG_MAX_ERRORS) return;
  va_list ap;
  va_start(ap, fmt);
  report(d, "note", at, fmt, ap);
  va_end(ap);
}
