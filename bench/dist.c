/* dist: W7, data-parallel training over MPI (docs/distributed.md).
 *
 * W3 (bench/w3.nn, one epoch of 12,800 samples) trained by 2 MPI ranks of 1
 * thread each against 1 process of 1 thread, alternating, best of N; the
 * share of the 2-rank run's training time rank 0 spent exchanging gradients
 * and parameters (the reduce-scatter and all-gather of the sharded update,
 * in shared memory on one machine, waits for the other rank included; nnc
 * train --timings prints it as the "all-reduce" line).  Then the same 2
 * ranks around a ring of messages over a simulated link of 1000 MB/s and
 * 50 us (NNC_TEST_LINK), whose exchange time per step is set against
 * the step-time model's ring all-reduce: 2(N-1)/N * bytes / bandwidth +
 * 2(N-1) * latency.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

enum { W3 = 1 };   /* workloads[W3] */

typedef struct {
  double rate;           /* samples/s of the epoch (rank 0's log); NAN when the run failed */
  double reduce_s;       /* seconds in the gradient all-reduce (rank 0) */
  double steps, bytes;   /* all-reduces and the bytes of each */
  double train_s;        /* the training's wall time */
} DistRun;

/* nnc train on W3: 1 process, or `ranks` MPI ranks; link "MB/s,us" or NULL. */
static DistRun run_w3(Bench *b, int ranks, const char *link) {
  char log[300], limit[16], np[8], env_link[64];
  snprintf(log, sizeof log, "%s/dist.log", b->tmp);
  snprintf(limit, sizeof limit, "%d", workloads[W3].limit);
  snprintf(np, sizeof np, "%d", ranks);
  snprintf(env_link, sizeof env_link, "NNC_TEST_LINK=%s", link ? link : "");
  unlink(log);
  settle(b);
  const char *argv[24] = {"mpirun", "-np", np, "--oversubscribe", "--bind-to", "none"}, **a = argv + 6;
  if (ranks == 1) a = argv;
  const char *train[] = {NNC, "train", workloads[W3].model, "--epochs", "1", "--threads", "1", "--limit", limit,
                         "--log", log, "--timings", NULL};
  memcpy(a, train, sizeof train);
  const char *set[] = {b->cache, "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                       "OMPI_MCA_btl=self,vader", env_link, NULL};
  ProcResult r;
  proc_run(argv, &(ProcOptions){.set = set}, &r);
  DistRun run = {.rate = r.ok ? log_rate(log) : NAN, .reduce_s = NAN, .train_s = NAN};
  char line[256];
  if (r.ok && ranks > 1)
    sscanf(line_starting(r.err, "all-reduce: ", line, sizeof line), "all-reduce: %lf steps, %lf bytes each, %lf s",
           &run.steps, &run.bytes, &run.reduce_s);
  double samples;
  if (r.ok) sscanf(line_starting(r.err, "training: ", line, sizeof line), "training: %lf samples in %lf s", &samples,
                   &run.train_s);
  if (!r.ok) note(b, "W7 %d rank(s)%s failed: %s", ranks, link ? " on the simulated link" : "", tail_of(r.err));
  proc_result_free(&r);
  progress("W7 %d rank%s%s: %.0f samples/s", ranks, ranks == 1 ? "" : "s", link ? " (simulated link)" : "", run.rate);
  return run;
}

/* The model's ring all-reduce of `bytes` over `ranks` at bandwidth (bytes/s) and latency (s). */
static double ring_seconds(int ranks, double bytes, double bandwidth, double latency) {
  return 2.0 * (ranks - 1) / ranks * bytes / bandwidth + 2.0 * (ranks - 1) * latency;
}

void bench_dist(Bench *b) {
  Row *w7 = add_row(b, "W7", "samples/s", "nnc 1 proc", "W3, 2 MPI ranks x 1 thread");
  w7->min_ratio = 1.6;
  DistRun best = {.rate = NAN};
  for (int i = 0; i < b->runs; i++) {
    row_add_run(w7, true, run_w3(b, 1, NULL).rate);
    DistRun two = run_w3(b, 2, NULL);
    row_add_run(w7, false, two.rate);
    if (!(two.rate <= best.rate)) best = two;
  }
  w7->nnc = row_best(w7, w7->runs_nnc, w7->nruns_nnc);
  w7->ref = row_best(w7, w7->runs_ref, w7->nruns_ref);
  if (isnan(best.rate)) return;
  note(b, "W7: 2 ranks spent %.0f%% of the training in the all-reduce (the gradients summed and the "
       "parameters shared in shared memory, waits included: %.2f ms per step for %.1f MB); 1 process: %.1f us per sample",
       100 * best.reduce_s / best.train_s,
       1e3 * best.reduce_s / best.steps, best.bytes / 1e6, 1e6 / w7->ref);
  DistRun slow = run_w3(b, 2, "1000,50");
  if (isnan(slow.rate)) return;
  double model = ring_seconds(2, slow.bytes, 1000e6, 50e-6);
  note(b, "W7 around a ring on a simulated 1000 MB/s, 50 us link: %.2f ms per all-reduce measured, %.2f ms by the model "
       "(2(N-1)/N bytes/bandwidth + 2(N-1) latency); %.0f samples/s", 1e3 * slow.reduce_s / slow.steps, 1e3 * model,
       slow.rate);
}
