/* The unit-test runner: every tests/unit/check_NAME.c contributes NAME_suite(),
 * listed in build/gen/suites.h by the Makefile.  `unit_tests --list` prints
 * the suite names, one a line, for tests/run.sh to run each suite as a job of
 * its own (CK_RUN_SUITE=NAME). */
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
  SRunner *sr = srunner_create(NULL);
#define SUITE(name) srunner_add_suite(sr, name##_suite());
#include "suites.h"
#undef SUITE
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
