/* table: the rows `make bench` measures, printed as a table and as JSON.
 *
 * A row pairs nnc's best figure with its reference's, measured in the same
 * run.  ratio is how many times better nnc is (faster; for "lower is better"
 * figures the reference over nnc); share is nnc's GFLOP/s over the FMA peak
 * it runs on.  A target is met when every condition it names holds; "n/a"
 * when a figure it needs is missing, "-" when there is none.
 */
#ifndef BENCH_TABLE_H
#define BENCH_TABLE_H

#include <stdbool.h>
#include <stdio.h>

enum { ROW_MAX_RUNS = 64 };

typedef struct {
  char id[8];               /* "W1", "GEMM", "MEM" */
  char what[80];            /* what is measured */
  const char *unit;         /* "samples/s", "GFLOP/s", "us/step", "ms", "MiB" */
  bool lower_better;        /* times and memory */
  double nnc;               /* best figure; NAN: not measured */
  char ref_name[24];        /* "pytorch 1t", "nnc 1t", "openblas", "budget"; "" for none */
  double ref;               /* NAN: missing */
  double gflops;            /* nnc's GFLOP/s; NAN: no share of peak */
  double peak;              /* GFLOP/s it is a share of */
  double min_ratio;         /* target: ratio at least this (0: no such condition) */
  double min_share;         /* target: share of peak at least this (0: none) */
  double max_value;         /* target: nnc at most this (0: none) */
  const char *check;        /* a condition checked elsewhere ("bit-identical"), or NULL */
  bool failed_check;        /* it failed */
  double runs_nnc[ROW_MAX_RUNS], runs_ref[ROW_MAX_RUNS];   /* every run's figure */
  int nruns_nnc, nruns_ref;
} Row;

/* The derived figures (NAN when not computable). */
double row_ratio(const Row *r);
double row_share(const Row *r);
/* "yes", "no", "n/a" or "-". */
const char *row_met(const Row *r);

/* Best figure of a row's runs (highest, or lowest when lower is better). */
double row_best(const Row *r, const double *runs, int n);
void row_add_run(Row *r, bool ref, double v);

void table_print(FILE *out, const Row *rows, int n);
/* The rows as a JSON array (indented by two spaces). */
void table_json(FILE *out, const Row *rows, int n);
/* s as a JSON string literal. */
void json_string(FILE *out, const char *s);

#endif
