/* cli: option access and the shared front half (read, parse, check) used by
 * every command. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *cli_get(const Cli *c, const char *name) {
  const char *v = NULL;
  for (int i = 0; i < c->nopts; i++)
    if (strcmp(c->opt_name[i], name) == 0) v = c->opt_value[i];
  return v;
}

bool cli_flag(const Cli *c, const char *name) { return cli_get(c, name) != NULL; }

bool cli_int(const Cli *c, const char *name, long long min, long long max, long long *out) {
  const char *v = cli_get(c, name);
  if (!v) return true;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < min || x > max) {
    fprintf(stderr, "nnc %s: --%s expects a whole number from %lld to %lld, got '%s'\n",
            c->command, name, min, max, v);
    return false;
  }
  *out = x;
  return true;
}

bool cli_double(const Cli *c, const char *name, double *out) {
  const char *v = cli_get(c, name);
  if (!v) return true;
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !isfinite(x)) {
    fprintf(stderr, "nnc %s: --%s expects a number, got '%s'\n", c->command, name, v);
    return false;
  }
  *out = x;
  return true;
}

/* --epochs/--batch/--seed change the checked model's settings; --lr is kept
 * aside for the runtime (the graphs do not depend on it); each override is
 * printed so a log shows what actually ran. */
static bool apply_overrides(Model *m, const Cli *c) {
  long long v;
  double d;
  if (cli_get(c, "epochs")) {
    if (!cli_int(c, "epochs", 1, 1000000, &v)) return false;
    m->train.epochs = (int)v;
  }
  if (cli_get(c, "batch") && strcmp(c->command, "train") == 0) {
    if (!cli_int(c, "batch", 1, 1 << 20, &v)) return false;
    m->train.batch = (int)v;
  }
  if (cli_get(c, "lr")) {
    if (!cli_double(c, "lr", &d)) return false;
    if (!(d > 0)) {
      fprintf(stderr, "nnc %s: --lr must be positive, got %g\n", c->command, d);
      return false;
    }
    m->train.lr_override = d;
  }
  if (cli_get(c, "seed")) {
    if (!cli_int(c, "seed", 0, (long long)(~0ULL >> 1), &v)) return false;
    m->train.seed = (unsigned long long)v;
  }
  return true;
}

bool front_load(Front *f, const char *path, const Cli *c) {
  *f = (Front){.arena = arena_new()};
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "nnc: %s: %s\n", path, strerror(errno));
    return false;
  }
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {   /* a UTF-8 byte order mark, as some editors write */
    len -= 3;
    memmove(text, text + 3, len + 1);
  }
  f->src = (Source){.name = path, .text = text, .len = len};
  diag_init(&f->diag, stderr, &f->src);
  AstProgram *p = parse_program(&f->src, f->arena, &f->diag);
  if (!p || diag_errors(&f->diag)) return false;
  f->model = sema_check(p, f->arena, &f->diag);
  if (!f->model || diag_errors(&f->diag)) return false;
  return apply_overrides(f->model, c);
}

bool front_check_batch(Front *f, int batch) { return sema_check_sizes(f->model, batch, &f->diag); }

void front_free(Front *f) {
  free((char *)f->src.text);
  arena_free(f->arena);
  *f = (Front){0};
}
