/* testutil: helpers shared by the check suites: a fresh temporary directory
 * per test (check runs each test in its own process), removed afterwards,
 * capturing a printer's output as a string, and models from source text. */
#ifndef NNC_TESTUTIL_H
#define NNC_TESTUTIL_H

#include <stdio.h>

#include "ir.h"
#include "sema.h"

/* Fixture functions for tcase_add_checked_fixture. */
void tmpdir_setup(void);
void tmpdir_teardown(void);
/* PATH of name inside the directory (one of 4 rotating buffers). */
const char *in_tmp(const char *name);
/* The directory itself. */
const char *tmpdir_path(void);

/* A checked model from source text (the test fails on any error). */
const Model *compile_model(Arena *a, const char *text);
/* Names in dir other than . and .., newline-separated and sorted, so tests
 * can see exactly which files exist (a static buffer). */
const char *dir_listing(const char *dir);

/* Everything printer f writes for graph g, as a heap string (caller frees). */
char *capture_graph(void (*f)(FILE *, const IrGraph *), const IrGraph *g);

#endif
