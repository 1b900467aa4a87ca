/* cnn: W6, the CNN of examples/fashion_cnn.nn (two 3x3 convolutions with
 * ReLU and 2x2 max pooling, two dense layers; batch 64, Adam), nnc train
 * against PyTorch (../shared/bench/torch_cnn.py, whose convolutions run in
 * oneDNN) in the same run, 1 thread and 2.
 *
 * Both train on CNN_SAMPLES images: nnc one epoch of --limit CNN_SAMPLES
 * (its samples/s from --log: the epoch's shuffle, batching and steps),
 * PyTorch --steps CNN_SAMPLES/64 after its warm-up.  FLOPs per step are
 * counted from what nnc's schedule computes (`nnc ir --stage=schedule`):
 * 2 per multiply-add of every convolution, 2 m n k of every product --
 * the same count torch_cnn.py makes by hand (3x the forward). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define CNN_MODEL "examples/fashion_cnn.nn"
#define TORCH_CNN "../shared/bench/torch_cnn.py"
#define CNN_SAMPLES 12800
#define CNN_BATCH 64

/* FLOPs of one train step from the schedule's kernel lines:
 *   "... conv [64,64,14,14] conv2d 231211008 multiply-adds, ..."
 *   "... matmul [64,128] M=64 N=128 K=3136 ..." */
static double step_flops(const char *schedule) {
  double flops = 0;
  for (const char *line = schedule; line && *line;) {
    const char *nl = strchr(line, '\n'), *p;
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
    double macs, m, n, k;
    if ((p = strstr(buf, " multiply-adds"))) {
      while (p > buf && p[-1] != ' ') p--;
      if (sscanf(p, "%lf", &macs) == 1) flops += 2 * macs;
    } else if ((p = strstr(buf, " M=")) && sscanf(p, " M=%lf N=%lf K=%lf", &m, &n, &k) == 3) {
      flops += 2 * m * n * k;
    }
    line = nl ? nl + 1 : NULL;
  }
  return flops;
}

static double load_flops(Bench *b) {
  ProcResult r;
  proc_run((const char *[]){NNC, "ir", CNN_MODEL, "--stage=schedule", NULL}, NULL, &r);
  double f = r.ok ? step_flops(r.out) : NAN;
  if (!r.ok || !(f > 0)) note(b, "W6: cannot read the schedule of %s: %s", CNN_MODEL, tail_of(r.err));
  proc_result_free(&r);
  progress("W6 %s: %.4g MFLOP per step", CNN_MODEL, f * 1e-6);
  return f;
}

static double run_nnc(Bench *b, int threads) {
  char log[300], th[16], limit[16];
  snprintf(log, sizeof log, "%s/cnn.log", b->tmp);
  snprintf(th, sizeof th, "%d", threads);
  snprintf(limit, sizeof limit, "%d", CNN_SAMPLES);
  unlink(log);
  settle(b);
  ProcResult r;
  proc_run((const char *[]){NNC, "train", CNN_MODEL, "--epochs", "1", "--limit", limit, "--threads", th, "--log", log,
                            NULL},
           &(ProcOptions){.set = (const char *[]){b->cache, NULL}}, &r);
  double rate = r.ok ? log_rate(log) : NAN;
  if (!r.ok) note(b, "W6 nnc --threads %d failed: %s", threads, tail_of(r.err));
  proc_result_free(&r);
  progress("W6 nnc %d thread%s: %.0f samples/s", threads, threads == 1 ? "" : "s", rate);
  return rate;
}

static double run_torch(Bench *b, int threads) {
  char th[16], steps[16], batch[16];
  snprintf(th, sizeof th, "%d", threads);
  snprintf(steps, sizeof steps, "%d", CNN_SAMPLES / CNN_BATCH);
  snprintf(batch, sizeof batch, "%d", CNN_BATCH);
  const char *argv[] = {python(), TORCH_CNN,   "--threads", th,    "--flush-denormal", "--batch",
                        batch,    "--steps",   steps,       "--repeats", "1",          NULL};
  static const char *unset[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                NULL};
  settle(b);
  ProcResult r;
  proc_run(argv, &(ProcOptions){.set = (const char *[]){"OMP_WAIT_POLICY=PASSIVE", NULL}, .unset = unset}, &r);
  double rate = r.ok ? proc_number(r.out, "samples_per_s") : NAN;
  if (!r.ok) note(b, "W6 pytorch %d thread(s) failed: %s", threads, tail_of(r.err));
  proc_result_free(&r);
  progress("W6 pytorch %d thread%s: %.0f samples/s", threads, threads == 1 ? "" : "s", rate);
  return rate;
}

static void finish(Row *r, double flops) {
  r->nnc = row_best(r, r->runs_nnc, r->nruns_nnc);
  r->ref = row_best(r, r->runs_ref, r->nruns_ref);
  r->gflops = r->nnc * flops / CNN_BATCH * 1e-9;
}

void bench_cnn(Bench *b) {
  double flops = load_flops(b);
  bool torch = b->torch && access(TORCH_CNN, R_OK) == 0;
  if (b->torch && !torch) note(b, "W6: reference missing: %s; nnc is measured alone", TORCH_CNN);
  Row *one = add_row(b, "W6", "samples/s", "pytorch 1t", "fashion_cnn b%d Adam, 1 thread", CNN_BATCH);
  one->min_ratio = 2, one->min_share = 0.5, one->peak = b->peak1;
  Row *two = add_row(b, "W6", "samples/s", "pytorch 2t", "fashion_cnn, 2 threads vs pytorch");
  two->peak = b->peak2;
  Row *scale = add_row(b, "W6", "samples/s", "nnc 1t", "fashion_cnn, 2 threads vs 1");
  scale->peak = b->peak2;
  for (int round = 0; round < b->runs; round++) {
    double n1 = run_nnc(b, 1), n2 = run_nnc(b, 2);
    row_add_run(one, false, n1);
    row_add_run(two, false, n2);
    row_add_run(scale, false, n2);
    row_add_run(scale, true, n1);
    if (!torch) continue;
    row_add_run(one, true, run_torch(b, 1));
    row_add_run(two, true, run_torch(b, 2));
  }
  finish(one, flops);
  finish(two, flops);
  finish(scale, flops);
  note(b, "W6: %d images per run, %.4g MFLOP per step (convolutions and products, forward and backward)", CNN_SAMPLES,
       flops * 1e-6);
}
