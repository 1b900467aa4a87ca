/* testutil: see testutil.h. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"

static char dir[64];   /* per test process */

void tmpdir_setup(void) {
  strcpy(dir, "/tmp/nnc_test_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Removes a directory tree the test made. */
static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    if (unlink(p) != 0) remove_tree(p);
  }
  closedir(d);
  rmdir(path);
}

void tmpdir_teardown(void) { remove_tree(dir); }

const char *tmpdir_path(void) { return dir; }

const char *in_tmp(const char *name) {
  static char buf[4][256];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, 256, "%s/%s", dir, name);
  return p;
}

const char *dir_listing(const char *path) {
  struct dirent **names;
  int n = scandir(path, &names, NULL, alphasort);
  static char buf[1024];
  buf[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..") &&
        strlen(buf) + strlen(names[i]->d_name) + 2 < sizeof buf) {
      strcat(buf, names[i]->d_name);
      strcat(buf, "\n");
    }
    free(names[i]);
  }
  if (n >= 0) free(names);
  return buf;
}

char *capture_graph(void (*f)(FILE *, const IrGraph *), const IrGraph *g) {
  FILE *tmp = tmpfile();
  ck_assert_ptr_nonnull(tmp);
  f(tmp, g);
  long n = ftell(tmp);
  rewind(tmp);
  char *s = xcalloc((size_t)n + 1, 1);
  ck_assert_int_eq((long)fread(s, 1, (size_t)n, tmp), n);
  fclose(tmp);
  return s;
}

const Model *compile_model(Arena *a, const char *text) {
  Source src = {"t.nn", text, strlen(text)};
  Diag d;
  diag_init(&d, stderr, &src);
  AstProgram *p = parse_program(&src, a, &d);
  Model *m = p && !diag_errors(&d) ? sema_check(p, a, &d) : NULL;
  ck_assert_ptr_nonnull(m);
  return m;
}
