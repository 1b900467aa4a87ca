/* table: the rows of `make bench` as a table and as JSON (see table.h). */
#include "table.h"

#include <math.h>
#include <string.h>

double row_ratio(const Row *r) {
  if (isnan(r->nnc) || isnan(r->ref) || r->nnc <= 0 || r->ref <= 0) return NAN;
  return r->lower_better ? r->ref / r->nnc : r->nnc / r->ref;
}

double row_share(const Row *r) { return isnan(r->gflops) || !(r->peak > 0) ? NAN : r->gflops / r->peak; }

const char *row_met(const Row *r) {
  bool any = r->min_ratio > 0 || r->min_share > 0 || r->max_value > 0 || r->check;
  if (!any) return "-";
  double ratio = row_ratio(r), share = row_share(r);
  if (isnan(r->nnc) || (r->min_ratio > 0 && isnan(ratio)) || (r->min_share > 0 && isnan(share))) return "n/a";
  bool ok = !r->failed_check && (r->min_ratio <= 0 || ratio >= r->min_ratio) &&
            (r->min_share <= 0 || share >= r->min_share) && (r->max_value <= 0 || r->nnc <= r->max_value);
  return ok ? "yes" : "no";
}

double row_best(const Row *r, const double *runs, int n) {
  double best = NAN;
  for (int i = 0; i < n; i++)
    if (!isnan(runs[i]) && (isnan(best) || (r->lower_better ? runs[i] < best : runs[i] > best))) best = runs[i];
  return best;
}

void row_add_run(Row *r, bool ref, double v) {
  int *n = ref ? &r->nruns_ref : &r->nruns_nnc;
  if (*n < ROW_MAX_RUNS) (ref ? r->runs_ref : r->runs_nnc)[(*n)++] = v;
}

/* ---- the table ---- */

static const char *number_format(const char *unit) {
  if (strcmp(unit, "samples/s") == 0) return "%.0f %s";
  if (strcmp(unit, "us/step") == 0) return "%.3f %s";
  return "%.1f %s";
}

static void format_value(char *buf, size_t len, double v, const char *unit) {
  if (isnan(v)) snprintf(buf, len, "missing");
  else snprintf(buf, len, number_format(unit), v, unit);
}

static void format_target(char *buf, size_t len, const Row *r) {
  size_t n = 0;
  buf[0] = 0;
  if (r->min_ratio > 0) n += (size_t)snprintf(buf + n, len - n, ">=%.1fx ", r->min_ratio);
  if (r->min_share > 0 && n < len) n += (size_t)snprintf(buf + n, len - n, ">=%.0f%% peak ", 100 * r->min_share);
  if (r->max_value > 0 && n < len) {
    char v[48];
    format_value(v, sizeof v, r->max_value, r->unit);
    n += (size_t)snprintf(buf + n, len - n, "<=%s ", v);
  }
  if (r->check && n < len) n += (size_t)snprintf(buf + n, len - n, "%s ", r->check);
  if (n > 0 && n <= len) buf[n - 1] = 0;
  else if (n == 0) snprintf(buf, len, "-");
}

enum { COLS = 9, CELL = 96 };
typedef char Cells[COLS][CELL];

static void row_cells(const Row *r, Cells c) {
  snprintf(c[0], CELL, "%s", r->id);
  snprintf(c[1], CELL, "%s", r->what);
  format_value(c[2], CELL, r->nnc, r->unit);
  snprintf(c[3], CELL, "%s", r->ref_name[0] ? r->ref_name : "-");
  if (r->ref_name[0]) format_value(c[4], CELL, r->ref, r->unit);
  else snprintf(c[4], CELL, "-");
  double ratio = row_ratio(r), share = row_share(r);
  if (isnan(ratio)) snprintf(c[5], CELL, "-");
  else snprintf(c[5], CELL, "%.2fx", ratio);
  if (isnan(share)) snprintf(c[6], CELL, "-");
  else snprintf(c[6], CELL, "%.0f%%", 100 * share);
  format_target(c[7], CELL, r);
  snprintf(c[8], CELL, "%s", row_met(r));
}

/* Figures line up on the right, words on the left; the last column ends the line. */
static void print_cell(FILE *out, int col, int width, const char *text) {
  if (col + 1 == COLS) fprintf(out, "%s\n", text);
  else if (col == 2 || (col >= 4 && col <= 6)) fprintf(out, "%*s  ", width, text);
  else fprintf(out, "%-*s  ", width, text);
}

void table_print(FILE *out, const Row *rows, int n) {
  static const char *head[COLS] = {"", "workload", "nnc", "vs", "reference", "ratio", "peak", "target", "met"};
  int width[COLS];
  for (int k = 0; k < COLS; k++) width[k] = (int)strlen(head[k]);
  Cells c;
  for (int i = 0; i < n; i++) {
    row_cells(&rows[i], c);
    for (int k = 0; k < COLS; k++)
      if ((int)strlen(c[k]) > width[k]) width[k] = (int)strlen(c[k]);
  }
  for (int k = 0; k < COLS; k++) print_cell(out, k, width[k], head[k]);
  for (int i = 0; i < n; i++) {
    row_cells(&rows[i], c);
    for (int k = 0; k < COLS; k++) print_cell(out, k, width[k], c[k]);
  }
}

/* ---- JSON ---- */

void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(out, "\\%c", ch);
    else if (ch == '\n') fputs("\\n", out);
    else if (ch < 0x20) fprintf(out, "\\u%04x", ch);
    else fputc(ch, out);
  }
  fputc('"', out);
}

static void json_number(FILE *out, double v) {
  if (isnan(v) || isinf(v)) fputs("null", out);
  else fprintf(out, "%.6g", v);
}

static void json_runs(FILE *out, const double *v, int n) {
  fputc('[', out);
  for (int i = 0; i < n; i++) {
    if (i) fputs(", ", out);
    json_number(out, v[i]);
  }
  fputc(']', out);
}

static void json_row(FILE *out, const Row *r) {
  char target[CELL];
  format_target(target, sizeof target, r);
  fputs("    {\"id\": ", out), json_string(out, r->id);
  fputs(", \"workload\": ", out), json_string(out, r->what);
  fputs(", \"unit\": ", out), json_string(out, r->unit);
  fputs(", \"nnc\": ", out), json_number(out, r->nnc);
  fputs(", \"reference\": ", out), json_string(out, r->ref_name);
  fputs(", \"reference_value\": ", out), json_number(out, r->ref);
  fputs(", \"ratio\": ", out), json_number(out, row_ratio(r));
  fputs(", \"gflops\": ", out), json_number(out, r->gflops);
  fputs(", \"peak_gflops\": ", out), json_number(out, r->peak);
  fputs(", \"share_of_peak\": ", out), json_number(out, row_share(r));
  fputs(", \"target\": ", out), json_string(out, target);
  fputs(", \"met\": ", out), json_string(out, row_met(r));
  fputs(", \"runs_nnc\": ", out), json_runs(out, r->runs_nnc, r->nruns_nnc);
  fputs(", \"runs_reference\": ", out), json_runs(out, r->runs_ref, r->nruns_ref);
  fputs("}", out);
}

void table_json(FILE *out, const Row *rows, int n) {
  fputs("[\n", out);
  for (int i = 0; i < n; i++) {
    json_row(out, &rows[i]);
    fputs(i + 1 < n ? ",\n" : "\n", out);
  }
  fputs("  ]", out);
}
