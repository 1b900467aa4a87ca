/* Unit tests for runtime/outfile.c: replacement leaves no temporary behind
 * and none is visible before the commit, non-regular targets are refused and
 * left alone, stale temporaries of dead processes are removed and live ones
 * kept, the run lock names its holder, and appended logs and streams report
 * a full device. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outfile.h"
#include "testutil.h"

/* The contents of path (static buffer, at most 255 bytes). */
static const char *contents(const char *path) {
  static char buf[256];
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

START_TEST(test_outfile_replace) {
  const char *path = in_tmp("out.txt");
  char err[512] = "";
  ck_assert_msg(outfile_write(path, "first", 5, err, sizeof err), "%s", err);
  ck_assert_str_eq(contents(path), "first");
  ck_assert_msg(outfile_write(path, "second", 6, err, sizeof err), "%s", err);
  ck_assert_str_eq(contents(path), "second");
  ck_assert_str_eq(dir_listing(tmpdir_path()), "out.txt\n");
}
END_TEST

/* A private file: mode 0600 whatever the umask allows, replaced whole, its
 * parts one after another. */
START_TEST(test_outfile_private) {
  const char *path = in_tmp("entry.o");
  char err[512] = "";
  ck_assert_msg(outfile_write_private(path, &(OutPart){"one", 3}, 1, err, sizeof err), "%s", err);
  OutPart parts[3] = {{"tw", 2}, {"", 0}, {"o!", 2}};
  ck_assert_msg(outfile_write_private(path, parts, 3, err, sizeof err), "%s", err);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0600);
  ck_assert_str_eq(contents(path), "two!");
  ck_assert_str_eq(dir_listing(tmpdir_path()), "entry.o\n");
}
END_TEST

/* Staged files are invisible until the commit; a discard leaves nothing. */
START_TEST(test_outfile_stage_commit_discard) {
  const char *a = in_tmp("a.o"), *b = in_tmp("b.h");
  char err[512] = "";
  OutFile fa, fb;
  ck_assert_msg(outfile_stage(&fa, a, "A", 1, err, sizeof err), "%s", err);
  ck_assert_msg(outfile_stage(&fb, b, "B", 1, err, sizeof err), "%s", err);
  if (!fa.named) ck_assert_str_eq(dir_listing(tmpdir_path()), "");   /* unnamed: a kill leaves nothing */
  ck_assert(outfile_commit(&fa, err, sizeof err));
  ck_assert_ptr_null(fa.path);
  outfile_discard(&fb);
  outfile_discard(&fb);   /* twice is fine */
  ck_assert_str_eq(dir_listing(tmpdir_path()), "a.o\n");
  ck_assert_str_eq(contents(a), "A");
}
END_TEST

/* Every kind of path that is not a regular file is refused and survives. */
START_TEST(test_outfile_refuses_non_regular) {
  char err[512], want[512];
  const char *dir = in_tmp("dir");
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  ck_assert(!outfile_write(dir, "x", 1, err, sizeof err));
  snprintf(want, sizeof want, "%s: is a directory (give a file name)", dir);
  ck_assert_str_eq(err, want);

  ck_assert(outfile_write(in_tmp("target"), "keep", 4, err, sizeof err));
  const char *link = in_tmp("link");
  ck_assert_int_eq(symlink("target", link), 0);
  ck_assert(!outfile_write(link, "x", 1, err, sizeof err));
  snprintf(want, sizeof want,
           "%s: is a symbolic link to target; nnc replaces output files whole and does not write through links "
           "(give the file's own path)", link);
  ck_assert_str_eq(err, want);
  struct stat st;
  ck_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
  ck_assert_str_eq(contents(in_tmp("target")), "keep");

  const char *fifo = in_tmp("fifo");
  ck_assert_int_eq(mkfifo(fifo, 0644), 0);
  ck_assert(!outfile_write(fifo, "x", 1, err, sizeof err));
  snprintf(want, sizeof want, "%s: is a FIFO, not a regular file; nnc replaces output files whole and would remove it",
           fifo);
  ck_assert_str_eq(err, want);
  ck_assert(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));

  /* a real device node: as root /dev is writable, and replacing it was the bug */
  ck_assert(!outfile_write("/dev/full", "x", 1, err, sizeof err));
  ck_assert_str_eq(err, "/dev/full: is a character device, not a regular file; nnc replaces output files whole "
                        "and would remove it");
  ck_assert(lstat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
  ck_assert_str_eq(dir_listing(tmpdir_path()), "dir\nfifo\nlink\ntarget\n");
}
END_TEST

/* A pid that no longer runs: a child that has exited and been reaped. */
static pid_t dead_pid(void) {
  pid_t p = fork();
  ck_assert_int_ge(p, 0);
  if (p == 0) _exit(0);
  ck_assert_int_eq(waitpid(p, NULL, 0), p);
  return p;
}

START_TEST(test_outfile_removes_stale_temps) {
  char dead[64], alive[64], err[512];
  snprintf(dead, sizeof dead, "m.ckpt.tmp.%ld", (long)dead_pid());
  snprintf(alive, sizeof alive, "m.ckpt.tmp.%ld", (long)getppid());
  const char *names[] = {dead, alive, "m.ckpt.tmp.x1", "other.tmp.1"};
  for (size_t i = 0; i < 4; i++) ck_assert(outfile_write(in_tmp(names[i]), "t", 1, err, sizeof err));
  ck_assert(outfile_write(in_tmp("m.ckpt"), "new", 3, err, sizeof err));
  char want[256];
  snprintf(want, sizeof want, "m.ckpt\n%s\nm.ckpt.tmp.x1\nother.tmp.1\n", alive);
  ck_assert_str_eq(dir_listing(tmpdir_path()), want);
}
END_TEST

/* The lock is held by a child; the parent is refused with the child's pid,
 * then gets it once the child lets go. */
START_TEST(test_outfile_lock) {
  const char *path = in_tmp("run.ckpt");
  int up[2], down[2];
  ck_assert(pipe(up) == 0 && pipe(down) == 0);
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    OutLock l;
    char e[512], c;
    bool ok = outfile_lock(&l, path, e, sizeof e);
    if (write(up[1], ok ? "y" : "n", 1) != 1 || read(down[0], &c, 1) != 1) _exit(2);
    outfile_unlock(&l);
    _exit(write(up[1], "d", 1) == 1 ? 0 : 2);
  }
  char c, err[512], want[512];
  ck_assert(read(up[0], &c, 1) == 1 && c == 'y');
  OutLock l;
  ck_assert(!outfile_lock(&l, path, err, sizeof err));
  snprintf(want, sizeof want,
           "%s: in use by process %ld (it holds %s.lock); two runs writing one checkpoint would overwrite each "
           "other's work", path, (long)child, path);
  ck_assert_str_eq(err, want);
  ck_assert(write(down[1], "g", 1) == 1 && read(up[0], &c, 1) == 1 && c == 'd');
  waitpid(child, NULL, 0);
  ck_assert_str_eq(dir_listing(tmpdir_path()), "");   /* the holder removed its lock file */
  ck_assert_msg(outfile_lock(&l, path, err, sizeof err), "%s", err);
  ck_assert_str_eq(dir_listing(tmpdir_path()), "run.ckpt.lock\n");
  outfile_unlock(&l);
  outfile_unlock(&l);
  ck_assert_str_eq(dir_listing(tmpdir_path()), "");
}
END_TEST

START_TEST(test_outlog_full_device) {
  OutLog l;
  char err[512];
  ck_assert(outlog_open(&l, "/dev/full", err, sizeof err));
  fprintf(l.f, "{\"epoch\": 1}\n");
  ck_assert(!outlog_flush(&l, err, sizeof err));
  ck_assert_str_eq(err, "/dev/full: cannot write: No space left on device");
  ck_assert(!outlog_close(&l, err, sizeof err));
  ck_assert_ptr_null(l.f);
  FILE *f = fopen("/dev/full", "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "prediction\n");
  ck_assert(!outfile_close_stream(f, "standard output", err, sizeof err));
  ck_assert_str_eq(err, "standard output: cannot write: No space left on device");
}
END_TEST

/* A log this run created that nothing reached is removed; one that existed stays. */
START_TEST(test_outlog_failed_new_log_removed) {
  char err[512];
  OutLog l;
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, none;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  none = (struct rlimit){0, old.rlim_max};
  ck_assert(outlog_open(&l, in_tmp("new.json"), err, sizeof err));
  fprintf(l.f, "{}\n");
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &none), 0);
  bool ok = outlog_close(&l, err, sizeof err);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  ck_assert(!ok);
  ck_assert_str_eq(dir_listing(tmpdir_path()), "");
  ck_assert(outfile_write(in_tmp("old.json"), "", 0, err, sizeof err));
  ck_assert(outlog_open(&l, in_tmp("old.json"), err, sizeof err));
  ck_assert(!l.created);
  ck_assert(outlog_close(&l, err, sizeof err));
  ck_assert_str_eq(dir_listing(tmpdir_path()), "old.json\n");
}
END_TEST

Suite *outfile_suite(void) {
  Suite *s = suite_create("outfile");
  TCase *tc = tcase_create("outfile");
  tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(tc, test_outfile_replace);
  tcase_add_test(tc, test_outfile_private);
  tcase_add_test(tc, test_outfile_stage_commit_discard);
  tcase_add_test(tc, test_outfile_refuses_non_regular);
  tcase_add_test(tc, test_outfile_removes_stale_temps);
  tcase_add_test(tc, test_outfile_lock);
  tcase_add_test(tc, test_outlog_full_device);
  tcase_add_test(tc, test_outlog_failed_new_log_removed);
  suite_add_tcase(s, tc);
  return s;
}
