/* proc: running one measured command (see proc.h). */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
  char *p;
  size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

/* In the child: the environment, the pipes, then the program. */
static void exec_child(const char *const *argv, const ProcOptions *opt, int out, int err) {
  for (const char *const *u = opt->unset; u && *u; u++) unsetenv(*u);
  for (const char *const *s = opt->set; s && *s; s++) putenv((char *)*s);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
  execvp(argv[0], (char *const *)argv);
  fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Whether a complete line of err, from *scan on, starts with prefix (advances *scan). */
static bool saw_line(const Buf *err, size_t *scan, const char *prefix) {
  for (;;) {
    char *nl = memchr(err->p + *scan, '\n', err->len - *scan);
    if (!nl) return false;
    bool hit = strncmp(err->p + *scan, prefix, strlen(prefix)) == 0;
    *scan = (size_t)(nl - err->p) + 1;
    if (hit) return true;
  }
}

/* Reads both pipes until they close, or until the stop line (then kills). */
static void collect(pid_t pid, int fds[2], const ProcOptions *opt, double t0, ProcResult *r, Buf b[2]) {
  size_t scan = 0;
  int open_fds = 2;
  while (open_fds > 0) {
    struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[4096];
      ssize_t n = read(fds[i], chunk, sizeof chunk);
      if (n > 0) {
        buf_add(&b[i], chunk, (size_t)n);
        continue;
      }
      close(fds[i]);
      fds[i] = -1;
      open_fds--;
    }
    if (opt->stop_at && r->at_line < 0 && saw_line(&b[1], &scan, opt->stop_at)) {
      r->at_line = now_seconds() - t0;
      kill(pid, SIGKILL);
    }
  }
}

bool proc_run(const char *const *argv, const ProcOptions *opt, ProcResult *r) {
  static const ProcOptions none = {0};
  if (!opt) opt = &none;
  *r = (ProcResult){.status = -1, .at_line = -1};
  Buf b[2] = {{0}, {0}};
  buf_add(&b[0], "", 0);
  buf_add(&b[1], "", 0);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) abort();
  double t0 = now_seconds();
  pid_t pid = fork();
  if (pid == 0) exec_child(argv, opt, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    buf_add(&b[1], "fork failed", 11);
    r->out = b[0].p, r->err = b[1].p;
    return false;
  }
  int fds[2] = {out[0], err[0]};
  collect(pid, fds, opt, t0, r, b);
  int st;
  struct rusage ru;
  while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
  r->seconds = now_seconds() - t0;
  r->max_rss_kb = ru.ru_maxrss;
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r->ok = r->status == 0 || r->at_line >= 0;
  r->out = b[0].p, r->err = b[1].p;
  return r->status != 127;
}

void proc_result_free(ProcResult *r) {
  free(r->out);
  free(r->err);
  *r = (ProcResult){0};
}

const char *proc_field(const char *text, const char *key, char *buf, int len) {
  size_t k = strlen(key);
  for (const char *p = text; p && (p = strstr(p, key)); p++) {
    if ((p > text && p[-1] != ' ' && p[-1] != '\n') || p[k] != '=') continue;
    snprintf(buf, (size_t)len, "%.*s", (int)strcspn(p + k + 1, " \n"), p + k + 1);
    return buf;
  }
  return NULL;
}

double proc_number(const char *text, const char *key) {
  char buf[64], *end;
  if (!proc_field(text, key, buf, sizeof buf)) return NAN;
  double v = strtod(buf, &end);
  return end != buf && !*end ? v : NAN;
}
