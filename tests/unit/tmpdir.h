/* tmpdir: a fresh temporary directory per test (check runs each test in its
 * own process), removed afterwards; for suites that write files. */
#ifndef NNC_TEST_TMPDIR_H
#define NNC_TEST_TMPDIR_H

/* Fixture functions for tcase_add_checked_fixture. */
void tmpdir_setup(void);
void tmpdir_teardown(void);
/* PATH of name inside the directory (one of 4 rotating buffers). */
const char *in_tmp(const char *name);
/* The directory itself. */
const char *tmpdir_path(void);

#endif
