/* tools: W4 (xor_loop), W5 (nnc train to its first step, cold and warm
 * cache) and the GEMM rows (gemm), each from a tool in build/bench/. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"

/* ---- W4 ---- */

void bench_xor(Bench *b) {
  char runs[16];
  snprintf(runs, sizeof runs, "%d", b->runs);
  ProcResult r;
  settle(b);
  proc_run((const char *[]){TOOLS "xor_loop", "--runs", runs, NULL}, NULL, &r);
  Row *row = add_row(b, "W4", "us/step", NULL, "xor 2-4-1 b4, compiled object in a C loop");
  row->lower_better = true;
  row->max_value = 0.15;
  row->nnc = r.ok ? proc_number(r.out, "us_per_step") : NAN;
  row->gflops = b->xor_info.flops_per_step / row->nnc * 1e-3;
  row->peak = b->peak1;
  row_add_run(row, false, row->nnc);
  if (!r.ok) note(b, "W4 xor_loop failed: %s", tail_of(r.err));
  progress("W4 xor: %.3f us per step", row->nnc);
  proc_result_free(&r);
}

/* ---- W5 ---- */

typedef struct {
  double ms;                  /* start to the first step; NAN: not reached */
  char stages[NOTE_LEN / 2];  /* nnc's "compile stages: ..." */
  char first[NOTE_LEN / 2];   /* nnc's "first step: ..." */
} Start;

/* `nnc train W1 --timings` with the compile cache in cache_dir, stopped
 * when it reports its first step. */
static Start first_step(Bench *b, const char *cache_dir) {
  char env[320];
  snprintf(env, sizeof env, "XDG_CACHE_HOME=%s", cache_dir);
  ProcResult r;
  settle(b);
  proc_run((const char *[]){NNC, "train", workloads[0].model, "--timings", NULL},
           &(ProcOptions){.set = (const char *[]){env, NULL}, .stop_at = "first step:"}, &r);
  Start s = {.ms = r.at_line >= 0 ? 1000 * r.at_line : NAN};
  line_starting(r.err, "compile stages: ", s.stages, sizeof s.stages);
  line_starting(r.err, "first step: ", s.first, sizeof s.first);
  if (r.at_line < 0) note(b, "W5: nnc train did not report its first step: %s", tail_of(r.err));
  proc_result_free(&r);
  return s;
}

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static void start_row(Bench *b, const char *what, double max_ms, const Start *runs, int n) {
  Row *row = add_row(b, "W5", "ms", NULL, "%s start to first step, %s", b->info[0].name, what);
  row->lower_better = true;
  row->max_value = max_ms;
  int best = 0;
  for (int i = 0; i < n; i++) {
    row_add_run(row, false, runs[i].ms);
    if (isnan(runs[best].ms) || runs[i].ms < runs[best].ms) best = i;
  }
  row->nnc = runs[best].ms;
  note(b, "W5 %s, best run: %s; %s", what, runs[best].first, runs[best].stages);
}

void bench_start(Bench *b) {
  Start *cold = calloc((size_t)b->runs, sizeof *cold), *warm = calloc((size_t)b->runs, sizeof *warm);
  char dir[320];
  for (int r = 0; r < b->runs; r++) {   /* a fresh, empty cache each time */
    snprintf(dir, sizeof dir, "%s/cold%d", b->tmp, r);
    mkdir(dir, 0777);
    cold[r] = first_step(b, dir);
    remove_tree(dir);
    progress("W5 cold: %.1f ms", cold[r].ms);
  }
  snprintf(dir, sizeof dir, "%s/warm", b->tmp);
  mkdir(dir, 0777);
  first_step(b, dir);   /* fills the cache */
  char cache[340];
  snprintf(cache, sizeof cache, "%s/nnc", dir);
  int files = count_files(cache);
  for (int r = 0; r < b->runs; r++) {
    warm[r] = first_step(b, dir);
    progress("W5 warm: %.1f ms", warm[r].ms);
  }
  start_row(b, "empty cache", 150, cold, b->runs);
  start_row(b, "warm cache", 30, warm, b->runs);
  if (files == 0) note(b, "W5: nnc train wrote no compile cache under $XDG_CACHE_HOME/nnc, so warm is cold");
  free(cold);
  free(warm);
}

/* ---- GEMM ---- */

static const char *orientation(const Matmul *m) {
  return m->ta ? "weight grad" : m->tb ? "input grad" : "forward";
}

static bool same_matmul(const Matmul *a, const Matmul *b) {
  return a->m == b->m && a->n == b->n && a->k == b->k && a->ta == b->ta && a->tb == b->tb;
}

/* The rows, one per distinct product of the workloads, before measuring. */
static int gemm_rows(Bench *b, Row **rows, char (*spec)[48]) {
  int n = 0;
  const Matmul *seen[2 * MAX_MATMULS];
  for (int w = 0; w < NWORKLOADS; w++)
    for (int i = 0; i < b->info[w].nmm; i++) {
      const Matmul *m = &b->info[w].mm[i];
      bool dup = false;
      for (int j = 0; j < n; j++) dup |= same_matmul(seen[j], m);
      if (dup) continue;
      seen[n] = m;
      snprintf(spec[n], 48, "%d,%d,%d,%d,%d", m->m, m->n, m->k, m->ta, m->tb);
      rows[n] = add_row(b, "GEMM", "GFLOP/s", "openblas", "%s %-11s %dx%d k=%d", workloads[w].id, orientation(m),
                        m->m, m->n, m->k);
      rows[n]->min_ratio = 1.0;
      rows[n++]->peak = b->peak1;
    }
  return n;
}

static void gemm_result(Bench *b, Row *row, const char *line) {
  row->nnc = row->gflops = proc_number(line, "nnc_gflops");
  row->ref = proc_number(line, "blas_gflops");
  row_add_run(row, false, row->nnc);
  row_add_run(row, true, row->ref);
  double diff = proc_number(line, "max_rel_diff");
  if (strstr(line, "error=")) note(b, "GEMM %s: %s", row->what, strstr(line, "error="));
  if (diff > 1e-4) note(b, "GEMM %s: nnc and OpenBLAS differ by %.2g (relative)", row->what, diff);
}

void bench_gemm(Bench *b) {
  Row *rows[2 * MAX_MATMULS];
  char spec[2 * MAX_MATMULS][48], runs[16];
  int n = gemm_rows(b, rows, spec);
  snprintf(runs, sizeof runs, "%d", b->runs);
  const char *argv[2 * MAX_MATMULS + 4] = {TOOLS "gemm", "--runs", runs};
  for (int i = 0; i < n; i++) argv[3 + i] = spec[i];
  static const char *unset[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", NULL};
  ProcResult r;
  settle(b);
  proc_run(argv, &(ProcOptions){.set = (const char *[]){"OPENBLAS_NUM_THREADS=1", NULL}, .unset = unset}, &r);
  char line[512];
  proc_field(r.out, "blas", b->blas_core, sizeof b->blas_core);
  int i = 0;
  for (const char *p = r.out; p && *p && i < n; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, "gemm ", 5) != 0) continue;
    snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
    gemm_result(b, rows[i++], line);
    progress("GEMM %s: nnc %.1f, openblas %.1f GFLOP/s", rows[i - 1]->what, rows[i - 1]->nnc, rows[i - 1]->ref);
  }
  if (!r.ok) note(b, "GEMM: the gemm tool failed: %s", tail_of(r.err));
  else note(b, "GEMM: OpenBLAS %s, 1 thread; both sides timed over the thread's CPU time", b->blas_core);
  proc_result_free(&r);
}
