/* The unit-test runner: every tests/unit/check_NAME.c contributes NAME_suite(),
 * listed in build/gen/suites.h by the Makefile.  `unit_tests --list` prints
 * the suite names, one a line, and CK_RUN_SUITE=NAME runs only suite NAME
 * (by those names, whatever suite_create calls it; an unknown name is an
 * error, never zero tests passed): tests/run.sh runs each suite as a job of
 * its own. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
#define SUITE(name) puts(#name);
#include "suites.h"
#undef SUITE
    return EXIT_SUCCESS;
  }
  const char *only = getenv("CK_RUN_SUITE");
  SRunner *sr = srunner_create(NULL);
  int added = 0;
#define SUITE(name)                                    \
  if (!only || strcmp(only, #name) == 0) {             \
    srunner_add_suite(sr, name##_suite());             \
    added++;                                           \
  }
#include "suites.h"
#undef SUITE
  if (added == 0) {
    fprintf(stderr, "unit_tests: no suite named '%s' (unit_tests --list names them)\n", only);
    srunner_free(sr);
    return EXIT_FAILURE;
  }
  unsetenv("CK_RUN_SUITE");   /* chosen above, by file name */
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
