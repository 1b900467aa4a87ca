/* trainlog: a small reader for the flat JSON objects of a training log. */
#include "trainlog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *p;      /* next byte */
  const char *end;    /* end of the line */
} Cursor;

static void skip_ws(Cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r')) c->p++;
}

static bool take(Cursor *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

/* A JSON string at c (after skipping blanks), escapes resolved (\uXXXX
 * beyond ASCII becomes '?': the log's own strings are ASCII). */
static bool read_string(Cursor *c, Arena *a, char **out) {
  if (!take(c, '"')) return false;
  char *s = arena_alloc(a, (size_t)(c->end - c->p) + 1);
  size_t n = 0;
  while (c->p < c->end && *c->p != '"') {
    char ch = *c->p++;
    if (ch == '\\' && c->p < c->end) {
      char e = *c->p++;
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      const char *k = strchr(from, e);
      if (e == 'u' && c->end - c->p >= 4) {
        unsigned u = (unsigned)strtoul((char[5]){c->p[0], c->p[1], c->p[2], c->p[3], 0}, NULL, 16);
        ch = u < 128 ? (char)u : '?';
        c->p += 4;
      } else if (k && e) {
        ch = to[k - from];
      } else {
        return false;
      }
    }
    s[n++] = ch;
  }
  if (!take(c, '"')) return false;
  s[n] = 0;
  *out = s;
  return true;
}

/* Skips true, false or a nested array/object (strings inside may hold
 * brackets). */
static bool skip_value(Cursor *c, Arena *a) {
  skip_ws(c);
  for (const char *w = "true\0false\0"; *w; w += strlen(w) + 1)
    if ((size_t)(c->end - c->p) >= strlen(w) && memcmp(c->p, w, strlen(w)) == 0) {
      c->p += strlen(w);
      return true;
    }
  int depth = 0;
  do {
    skip_ws(c);
    if (c->p >= c->end) return false;
    char *ignored;
    if (*c->p == '"') {
      if (!read_string(c, a, &ignored)) return false;
      continue;
    }
    if (*c->p == '[' || *c->p == '{') depth++;
    else if (*c->p == ']' || *c->p == '}') depth--;
    else if (depth == 0) return false;
    c->p++;
  } while (depth > 0);
  return true;
}

/* The column for key, created (all NAN) the first time it is seen. */
static LogColumn *column(TrainLog *log, const char *key, int cap) {
  for (int i = 0; i < log->ncols; i++)
    if (strcmp(log->cols[i].key, key) == 0) return &log->cols[i];
  LogColumn *grown = NEW_ARRAY(log->arena, LogColumn, log->ncols + 1);
  if (log->ncols) memcpy(grown, log->cols, sizeof(LogColumn) * (size_t)log->ncols);
  log->cols = grown;
  LogColumn *col = &log->cols[log->ncols++];
  col->key = key;
  col->v = NEW_ARRAY(log->arena, double, cap);
  for (int i = 0; i < cap; i++) col->v[i] = NAN;
  return col;
}

/* One line `{"key": value, ...}` into record `row`; false with the reason. */
static bool read_line(TrainLog *log, Cursor *c, int row, int cap, const char **why) {
  *why = "expected a JSON object {...}";
  if (!take(c, '{')) return false;
  if (take(c, '}')) return true;
  do {
    char *key;
    *why = "expected a \"key\" in double quotes";
    if (!read_string(c, log->arena, &key)) return false;
    *why = "expected ':' after a key";
    if (!take(c, ':')) return false;
    skip_ws(c);
    *why = "a value is not a number, string, true, false, null, array or object";
    if (c->p < c->end && *c->p == '"') {
      char *text;
      if (!read_string(c, log->arena, &text)) return false;
      if (strcmp(key, "event") == 0) log->event[row] = text;
    } else if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
      c->p += 4;   /* a value that was not finite: stays NAN */
    } else if (c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))) {
      char buf[64], *end;
      size_t n = (size_t)(c->end - c->p) < sizeof buf - 1 ? (size_t)(c->end - c->p) : sizeof buf - 1;
      memcpy(buf, c->p, n);
      buf[n] = 0;
      double v = strtod(buf, &end);
      if (end == buf) return false;
      c->p += end - buf;
      column(log, key, cap)->v[row] = v;
    } else if (!skip_value(c, log->arena)) {
      return false;
    }
  } while (take(c, ','));
  *why = "expected ',' or '}'";
  if (!take(c, '}')) return false;
  skip_ws(c);
  *why = "text after the object";
  return c->p == c->end;
}

bool trainlog_read(const char *path, TrainLog *log, char *err, size_t errlen) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    *log = (TrainLog){0};
    return errorf(err, errlen, "%s: %s", path, strerror(errno));
  }
  bool ok = trainlog_parse(text, len, path, log, err, errlen);
  free(text);
  return ok;
}

bool trainlog_parse(const char *text, size_t len, const char *path, TrainLog *log, char *err, size_t errlen) {
  *log = (TrainLog){.arena = arena_new()};
  int cap = 1;
  for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
  log->event = NEW_ARRAY(log->arena, char *, cap);
  bool ok = true;
  int line = 0;
  for (const char *p = text, *end = text + len; ok && p < end; line++) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    Cursor c = {p, eol ? eol : end};
    p = eol ? eol + 1 : end;
    skip_ws(&c);
    if (c.p == c.end) continue;
    const char *why;
    if (!read_line(log, &c, log->nlines, cap, &why)) ok = errorf(err, errlen, "%s:%d: %s", path, line + 1, why);
    else log->nlines++;
  }
  if (ok && log->nlines == 0) ok = errorf(err, errlen, "%s: no records (is it a log written by nnc train --log?)", path);
  if (!ok) trainlog_free(log);
  return ok;
}

void trainlog_free(TrainLog *log) {
  arena_free(log->arena);
  *log = (TrainLog){0};
}

const double *trainlog_column(const TrainLog *log, const char *key) {
  for (int i = 0; i < log->ncols; i++)
    if (strcmp(log->cols[i].key, key) == 0) return log->cols[i].v;
  return NULL;
}
