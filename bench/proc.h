/* proc: running one measured command for bench/bench.c.
 *
 * proc_run starts argv (found on PATH) with stdin from /dev/null, collects
 * its standard output and error, and waits for it: wall time from just
 * before the start, exit status and peak resident memory (wait4's rusage).
 * With `stop_at`, the child is killed (SIGKILL) as soon as a line of its
 * standard error starts with that text, and `at_line` is the wall time from
 * the start to that line's arrival: how `make bench` times a command up to
 * a point it announces.
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stdbool.h>

typedef struct {
  const char *const *set;     /* "NAME=VALUE" to set, NULL-terminated (may be NULL) */
  const char *const *unset;   /* NAMEs to remove, NULL-terminated (may be NULL) */
  const char *stop_at;        /* kill when a stderr line starts with this (NULL: run to the end) */
} ProcOptions;

typedef struct {
  bool ok;             /* started, and exited with status 0 (or was stopped at the line) */
  int status;          /* exit status; 128 + signal when killed by one */
  double seconds;      /* wall time, start to exit */
  double at_line;      /* wall time, start to the stop_at line (< 0: not seen) */
  long max_rss_kb;     /* peak resident set size */
  char *out, *err;     /* standard output and error (heap, NUL-terminated) */
} ProcResult;

/* false (and r->ok false, a reason in r->err) if the command could not be started. */
bool proc_run(const char *const *argv, const ProcOptions *opt, ProcResult *r);
void proc_result_free(ProcResult *r);

/* The value of `key=` in text (the first occurrence, at a word start), up to
 * the next space or line end, copied into buf; NULL if absent. */
const char *proc_field(const char *text, const char *key, char *buf, int len);
/* Its number (NAN if absent or not a number). */
double proc_number(const char *text, const char *key);

#endif
