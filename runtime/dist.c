/* dist: data-parallel training over MPI (see dist.h). */
#include "dist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool dist_launched(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

#ifdef NNC_MPI
#include <mpi.h>

/* MPI is one per process: so is this. */
static struct {
  int rank, size;
  volatile sig_atomic_t *stop;
  double reduce_seconds;   /* in the gradient all-reduce */
  long long reduces;       /* steps that summed gradients */
  long long bytes;         /* gradient bytes per step */
} D;

static double clock_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* An MPI call's error ends the job, naming this rank and the call. */
static void check(int rc, const char *what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fprintf(stderr, "nnc: rank %d of %d: %s failed: %s\n", D.rank, D.size, what, msg);
  dist_abort(1);
}

static void sum_doubles(double *v, int n, void *ctx) {
  (void)ctx;
  check(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (metrics)");
}

/* A simulated link between the ranks, for measuring the step-time model
 * (NNC_TEST_LINK="MB/s,microseconds", docs/distributed.md; `make bench`):
 * the gradient sum becomes a ring all-reduce of MPI_Sendrecv messages, each
 * followed by the time it would take on that link.  Chunk k's sum is made
 * once, on one rank, and copied to the others, so every rank still gets the
 * same bits. */
static struct {
  double bytes_per_second, latency;   /* 0: no simulated link */
} link_sim;

static void read_link(void) {
  const char *s = getenv("NNC_TEST_LINK");
  double mbps, us;
  if (s && sscanf(s, "%lf,%lf", &mbps, &us) == 2 && mbps > 0 && us >= 0)
    link_sim.bytes_per_second = mbps * 1e6, link_sim.latency = us * 1e-6;
}

/* The time a message of n bytes takes on the simulated link. */
static void link_delay(int64_t n) {
  double s = link_sim.latency + (double)n / link_sim.bytes_per_second;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {}
}

static int64_t chunk_start(int64_t n, int k) { return n * k / D.size; }

/* Sends chunk `send` to the next rank while receiving chunk `recv` from the
 * previous one into buf (n floats in all). */
static void ring_step(float *v, int64_t n, int send, int recv, float *buf) {
  int64_t s0 = chunk_start(n, send), r0 = chunk_start(n, recv);
  int next = (D.rank + 1) % D.size, prev = (D.rank + D.size - 1) % D.size;
  check(MPI_Sendrecv(v + s0, (int)(chunk_start(n, send + 1) - s0), MPI_FLOAT, next, 0, buf,
                     (int)(chunk_start(n, recv + 1) - r0), MPI_FLOAT, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Sendrecv (simulated link)");
  link_delay((int64_t)sizeof(float) * (chunk_start(n, send + 1) - s0));
}

/* Reduce-scatter then all-gather around the ring: 2(size-1) messages of
 * n/size floats each. */
static void ring_allreduce(float *v, int64_t n) {
  int R = D.size, r = D.rank;
  float *buf = malloc(sizeof(float) * (size_t)(n / R + 1));
  if (!buf) die("out of memory");
  for (int s = 0; s < R - 1; s++) {
    int recv = (r + 2 * R - s - 1) % R;
    ring_step(v, n, (r + R - s) % R, recv, buf);
    for (int64_t i = chunk_start(n, recv); i < chunk_start(n, recv + 1); i++) v[i] += buf[i - chunk_start(n, recv)];
  }
  for (int s = 0; s < R - 1; s++) {
    int recv = (r + R - s) % R;
    ring_step(v, n, (r + 1 + R - s) % R, recv, buf);
    memcpy(v + chunk_start(n, recv), buf, sizeof(float) * (size_t)(chunk_start(n, recv + 1) - chunk_start(n, recv)));
  }
  free(buf);
}

bool dist_start(TrainerRanks *r) {
  int provided;
  /* only the main thread calls MPI; the thread pool never does */
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "nnc: MPI_Init_thread failed: cannot join the MPI job\n");
    return false;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &D.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &D.size);
  read_link();
  *r = (TrainerRanks){.rank = D.rank, .size = D.size, .sum = sum_doubles};
  return true;
}

/* Each shard's share of the global batch's mean gradient (the shard graph
 * weights its mean by its share, lower_grad_step), summed over the ranks:
 * the global batch's mean gradient. */
static bool sum_gradients(Trainer *t, void *ctx) {
  (void)ctx;
  Store *st = &t->s.store;
  double t0 = clock_seconds();
  if (link_sim.bytes_per_second > 0)
    ring_allreduce(st->grad, st->param_floats);
  else
    check(MPI_Allreduce(MPI_IN_PLACE, st->grad, (int)st->param_floats, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce (gradients)");
  D.reduce_seconds += clock_seconds() - t0;
  D.reduces++;
  D.bytes = (long long)sizeof(float) * st->param_floats;
  return true;
}

/* Batch-norm running statistics move with each rank's shard: their mean
 * over the ranks keeps every rank's copy the same. */
static void average_model_state(Trainer *t) {
  Store *st = &t->s.store;
  for (int i = 0; i < st->n; i++) {
    Tensor *x = &st->t[i];
    if (x->op != OP_STATE || !x->model_state) continue;
    float *v = store_data(st, x);
    check(MPI_Allreduce(MPI_IN_PLACE, v, (int)x->numel, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce (running statistics)");
    for (int64_t k = 0; k < x->numel; k++) v[k] /= (float)D.size;
  }
}

/* A signal seen by one rank stops every rank after the same step. */
static bool after_step(Trainer *t, void *ctx) {
  (void)ctx;
  average_model_state(t);
  int stop = D.stop && *D.stop, any = 0;
  check(MPI_Allreduce(&stop, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (stop)");
  if (any && D.stop) *D.stop = 1;
  return true;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* The ranks' parameters and state must be the same bits after every epoch. */
static bool check_same_weights(Trainer *t, void *ctx) {
  (void)ctx;
  const Store *st = &t->s.store;
  uint64_t h = fnv1a(0xcbf29ce484222325ull, st->param, sizeof(float) * (size_t)st->param_floats);
  h = fnv1a(h, st->state, sizeof(float) * (size_t)st->state_floats);
  uint64_t v[2] = {h, ~h}, m[2];
  check(MPI_Allreduce(v, m, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (weight check)");
  if (m[0] == h && m[1] == ~h) return true;
  fprintf(stderr, "nnc: rank %d of %d: its weights differ from another rank's after epoch %lld\n", D.rank, D.size,
          (long long)t->pos.epoch);
  return false;
}

void dist_attach(Trainer *t, volatile sig_atomic_t *stop) {
  D.stop = stop;
  trainer_hook(t, TRAINER_BEFORE_UPDATE, sum_gradients, NULL);
  trainer_hook(t, TRAINER_AFTER_STEP, after_step, NULL);
  trainer_hook(t, TRAINER_AFTER_EPOCH, check_same_weights, NULL);
}

void dist_abort(int status) {
  fprintf(stderr, "nnc: rank %d of %d failed; stopping every rank\n", D.rank, D.size);
  fflush(NULL);
  MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
  exit(status ? status : 1);
}

void dist_finish(void) { MPI_Finalize(); }

void dist_print_timings(FILE *out) {
  fprintf(out, "all-reduce: %lld steps, %lld bytes each, %.4f s on rank %d of %d\n", D.reduces, D.bytes,
          D.reduce_seconds, D.rank, D.size);
}

#else /* built with MPI=0: a run under mpirun or with --mpi is refused */

bool dist_start(TrainerRanks *r) {
  (void)r;
  fprintf(stderr, "nnc: this nnc was built without MPI (make MPI=0); it cannot run distributed\n");
  return false;
}
/* The rest is only reached after dist_start succeeded. */
void dist_attach(Trainer *t, volatile sig_atomic_t *stop) { (void)t, (void)stop; }
void dist_abort(int status) { exit(status ? status : 1); }
void dist_finish(void) {}
void dist_print_timings(FILE *out) { (void)out; }

#endif
