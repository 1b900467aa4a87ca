/* mlp: W1 and W3 (nnc train, 1 thread, against PyTorch 1 thread), W2 (2
 * threads against nnc's 1 thread and PyTorch's 2), the byte comparison of
 * the 1- and 2-thread checkpoints, and W1's peak memory.
 *
 * A round runs, for each workload, nnc with 1 and 2 threads, then PyTorch
 * with 1 and 2; N rounds, best of each.  nnc's figure is the samples/s of
 * its epoch (from --log: the epoch's shuffle, batching and steps; not
 * compiling, loading or testing); PyTorch's is timed the same way
 * (bench/torch_ref.py).  The 1-thread runs are also timed over the
 * process's CPU time (nnc train --timings), a second pair of figures that
 * other jobs on a busy machine hardly move. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

typedef struct {
  Row one;          /* nnc 1 thread vs PyTorch 1 thread */
  Row one_cpu;      /* the same over CPU time */
  Row two;          /* nnc 2 threads vs nnc 1 thread */
  Row two_torch;    /* nnc 2 threads vs PyTorch 2 threads */
  long max_rss_kb;  /* largest of the 1-thread runs */
  double params;    /* from "training NAME: P parameters, S samples[, V validation][, T test]" */
  double samples;   /* training + validation + test samples loaded */
} MlpRows;

typedef struct {
  double rate;      /* samples/s; NAN when the run failed */
  double cpu_rate;  /* samples per second of CPU time */
  long max_rss_kb;
  double params, samples;
} NncRun;

double log_rate(const char *path) {
  FILE *f = fopen(path, "r");
  char line[1024];
  double rate = NAN;
  while (f && fgets(line, sizeof line, f)) {
    const char *p = strstr(line, "\"samples_per_second\": ");
    if (p) rate = atof(p + strlen("\"samples_per_second\": "));
  }
  if (f) fclose(f);
  return rate;
}

/* "training fashion_mlp: 235146 parameters, 60000 samples, 10000 test; ..." */
static void data_counts(const char *out, NncRun *n) {
  char line[512];
  const char *p = strchr(line_starting(out, "training ", line, sizeof line), ':');
  if (!p || sscanf(p, ": %lf parameters, %lf samples", &n->params, &n->samples) != 2) return;
  const char *end = strchr(p, ';');
  for (const char *q = strchr(p + 1, ','); q && (!end || q < end); q = strchr(q + 1, ',')) {
    double more;
    char what[32];
    if (sscanf(q, ", %lf %31[a-z]", &more, what) == 2 && strcmp(what, "samples") != 0) n->samples += more;
  }
}

static NncRun run_nnc(Bench *b, int w, int threads, const char *save) {
  const Workload *wl = &workloads[w];
  char log[300], th[16], limit[16];
  snprintf(log, sizeof log, "%s/train.log", b->tmp);
  snprintf(th, sizeof th, "%d", threads);
  snprintf(limit, sizeof limit, "%d", wl->limit);
  unlink(log);
  settle(b);
  const char *argv[16] = {NNC, "train", wl->model, "--epochs", "1", "--threads", th, "--log", log, "--timings"};
  int n = 10;
  if (wl->limit) argv[n++] = "--limit", argv[n++] = limit;
  if (save) argv[n++] = "--save", argv[n++] = save;
  ProcResult r;
  proc_run(argv, &(ProcOptions){.set = (const char *[]){b->cache, NULL}}, &r);
  NncRun run = {.rate = r.ok ? log_rate(log) : NAN, .cpu_rate = NAN, .max_rss_kb = r.max_rss_kb};
  data_counts(r.out, &run);
  char line[256];
  double samples, wall, cpu;
  if (r.ok && sscanf(line_starting(r.err, "training: ", line, sizeof line), "training: %lf samples in %lf s, %lf s",
                     &samples, &wall, &cpu) == 3 && cpu > 0)
    run.cpu_rate = samples / cpu;
  if (!r.ok) note(b, "%s nnc --threads %d failed: %s", wl->id, threads, tail_of(r.err));
  proc_result_free(&r);
  progress("%s nnc %d thread%s: %.0f samples/s", wl->id, threads, threads == 1 ? "" : "s", run.rate);
  return run;
}

typedef struct {
  double rate, cpu_rate;   /* samples/s over wall and CPU time; NAN when the run failed */
} TorchRun;

static TorchRun run_torch(Bench *b, int w, int threads) {
  const ModelInfo *mi = &b->info[w];
  char layers[128] = "", batch[16], th[16], samples[16];
  for (int i = 0; i < mi->nlayers; i++)
    snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%d", i ? "," : "", mi->layers[i]);
  snprintf(batch, sizeof batch, "%d", mi->batch);
  snprintf(th, sizeof th, "%d", threads);
  snprintf(samples, sizeof samples, "%d", workloads[w].limit);
  const char *argv[] = {python(), "bench/torch_ref.py", "--layers", layers, "--batch", batch, "--threads", th,
                        "--flush-denormal", "--samples", samples, NULL};
  /* OpenBLAS picks its own best kernel (some machines here set these as a safety measure) */
  static const char *unset[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                NULL};
  ProcResult r;
  settle(b);
  proc_run(argv, &(ProcOptions){.set = (const char *[]){"OMP_WAIT_POLICY=PASSIVE", NULL}, .unset = unset}, &r);
  TorchRun run = {NAN, NAN};
  if (r.ok) run = (TorchRun){proc_number(r.out, "samples_per_s"), proc_number(r.out, "cpu_samples_per_s")};
  if (!r.ok) note(b, "%s pytorch %d thread(s) failed: %s", workloads[w].id, threads, tail_of(r.err));
  proc_result_free(&r);
  progress("%s pytorch %d thread%s: %.0f samples/s", workloads[w].id, threads, threads == 1 ? "" : "s", run.rate);
  return run;
}

/* Whether two files hold the same bytes (*bytes: how many were equal). */
static bool same_bytes(const char *a, const char *b, long *bytes) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  bool same = fa && fb;
  *bytes = 0;
  while (same) {
    int ca = getc(fa), cb = getc(fb);
    same = ca == cb;
    if (ca == EOF || !same) break;
    (*bytes)++;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

static void one_round(Bench *b, int w, MlpRows *m, bool first) {
  char ck1[300], ck2[300];
  snprintf(ck1, sizeof ck1, "%s/threads1.ckpt", b->tmp);
  snprintf(ck2, sizeof ck2, "%s/threads2.ckpt", b->tmp);
  NncRun one = run_nnc(b, w, 1, first ? ck1 : NULL);
  NncRun two = run_nnc(b, w, 2, first ? ck2 : NULL);
  row_add_run(&m->one, false, one.rate);
  row_add_run(&m->one_cpu, false, one.cpu_rate);
  row_add_run(&m->two, true, one.rate);
  row_add_run(&m->two, false, two.rate);
  row_add_run(&m->two_torch, false, two.rate);
  if (one.max_rss_kb > m->max_rss_kb) m->max_rss_kb = one.max_rss_kb;
  if (one.params > 0) m->params = one.params, m->samples = one.samples;
  if (first && (isnan(one.rate) || isnan(two.rate))) {
    m->two.failed_check = true;
    note(b, "%s: checkpoints of --threads 1 and 2 not compared: a run failed", workloads[w].id);
  } else if (first) {
    long bytes;
    m->two.failed_check = !same_bytes(ck1, ck2, &bytes);
    note(b, "%s: checkpoints of --threads 1 and --threads 2 %s (%ld bytes)", workloads[w].id,
         m->two.failed_check ? "DIFFER" : "are identical", bytes);
  }
  if (!b->torch || b->info[w].nlayers == 0) return;
  TorchRun t1 = run_torch(b, w, 1), t2 = run_torch(b, w, 2);
  row_add_run(&m->one, true, t1.rate);
  row_add_run(&m->one_cpu, true, t1.cpu_rate);
  row_add_run(&m->two_torch, true, t2.rate);
}

static void init_rows(const Bench *b, int w, MlpRows *m) {
  const Workload *wl = &workloads[w];
  const ModelInfo *mi = &b->info[w];
  char shape[96] = "";
  for (int i = 0; i < mi->nlayers; i++)
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%d", i ? "-" : " ", mi->layers[i]);
  Row base = {.unit = "samples/s", .nnc = NAN, .ref = NAN, .gflops = NAN};
  m->one = m->one_cpu = m->two = m->two_torch = base;
  snprintf(m->one.what, sizeof m->one.what, "%s%s b%d, 1 thread", mi->name, shape, mi->batch);
  snprintf(m->one.ref_name, sizeof m->one.ref_name, "pytorch 1t");
  m->one.min_ratio = wl->min_ratio, m->one.min_share = wl->min_share, m->one.peak = b->peak1;
  snprintf(m->one_cpu.what, sizeof m->one_cpu.what, "%s, 1 thread, over CPU time", mi->name);
  snprintf(m->one_cpu.ref_name, sizeof m->one_cpu.ref_name, "pytorch 1t");
  m->one_cpu.peak = b->peak1;
  snprintf(m->two.what, sizeof m->two.what, "%s, 2 threads vs 1", mi->name);
  snprintf(m->two.ref_name, sizeof m->two.ref_name, "nnc 1t");
  m->two.min_ratio = wl->min_speedup, m->two.check = "bit-identical", m->two.peak = b->peak2;
  snprintf(m->two_torch.what, sizeof m->two_torch.what, "%s, 2 threads vs pytorch", mi->name);
  snprintf(m->two_torch.ref_name, sizeof m->two_torch.ref_name, "pytorch 2t");
  m->two_torch.peak = b->peak2;
}

/* Best figures, and GFLOP/s from the train graph's products. */
static void finish_row(Row *r, const ModelInfo *mi, const char *id) {
  snprintf(r->id, sizeof r->id, "%s", id);
  r->nnc = row_best(r, r->runs_nnc, r->nruns_nnc);
  r->ref = row_best(r, r->runs_ref, r->nruns_ref);
  r->gflops = r->nnc * mi->flops_per_step / mi->batch * 1e-9;
}

/* Peak memory of W1 against the data in float32 + 4x the parameters + 40 MiB. */
static void memory_row(Bench *b, const MlpRows *m, const ModelInfo *mi) {
  Row *r = add_row(b, "MEM", "MiB", "budget", "%s peak memory (max RSS), 1 thread", mi->name);
  r->lower_better = true;
  r->nnc = m->max_rss_kb / 1024.0;
  r->ref = r->max_value = (4.0 * m->samples * mi->row_floats + 16.0 * m->params) / 1048576.0 + 40;
  row_add_run(r, false, r->nnc);
  note(b, "MEM budget: %.0f samples x %d floats + 4 x %.0f parameters, in float32, + 40 MiB = %.1f MiB", m->samples,
       mi->row_floats, m->params, r->ref);
}

void bench_mlps(Bench *b) {
  static MlpRows m[NWORKLOADS];
  for (int w = 0; w < NWORKLOADS; w++) init_rows(b, w, &m[w]);
  for (int round = 0; round < b->runs; round++)
    for (int w = 0; w < NWORKLOADS; w++) one_round(b, w, &m[w], round == 0);
  for (int w = 0; w < NWORKLOADS; w++) {
    finish_row(&m[w].one, &b->info[w], workloads[w].id);
    finish_row(&m[w].one_cpu, &b->info[w], workloads[w].id);
    b->rows[b->nrows++] = m[w].one;
    b->rows[b->nrows++] = m[w].one_cpu;
  }
  for (int w = NWORKLOADS - 1; w >= 0; w--) {   /* W3 first: the harder thread target */
    finish_row(&m[w].two, &b->info[w], "W2");
    finish_row(&m[w].two_torch, &b->info[w], "W2");
    b->rows[b->nrows++] = m[w].two;
    b->rows[b->nrows++] = m[w].two_torch;
  }
  memory_row(b, &m[0], &b->info[0]);
  if (!b->torch) return;
  for (int w = 0; w < NWORKLOADS; w++)
    if (b->info[w].nlayers == 0) note(b, "%s is not a chain of dense layers: no PyTorch reference", workloads[w].id);
}
