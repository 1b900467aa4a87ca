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

#include "lower.h"

/* MPI is one per process: so is this. */
static struct {
  int rank, size;
  volatile sig_atomic_t *stop;   /* set by this rank's signal handler */
  volatile sig_atomic_t agreed;  /* whether any rank was signalled, as all agreed after the last step:
                                    the trainer's stop flag, so every rank stops after the same step */
  int64_t *bound;          /* size + 1: rank k's slice of the flat buffers is bound[k]..bound[k+1]-1 */
  float *buf;              /* a slice's worth of floats, for the ring */
  int *counts, *displs;    /* size each: MPI_Allgatherv of the optimizer state */
  bool clip_norm;          /* a slice update clipping by the global norm */
  float *sumsq;            /* its squared global norm, the update's input; NULL in an empty slice's graph */
  double *each;            /* size: the ranks' sums of squares */
  double reduce_seconds;   /* summing gradients and gathering parameters */
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
 * each message of the ring below is followed by the time it would take on
 * that link. */
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

static int64_t chunk_floats(int k) { return D.bound[k + 1] - D.bound[k]; }

/* Sends chunk `send` of v (rank `send`'s slice) to the next rank while
 * receiving chunk `recv` from the previous one into `into`. */
static void ring_step(float *v, int send, int recv, float *into) {
  int next = (D.rank + 1) % D.size, prev = (D.rank + D.size - 1) % D.size;
  check(MPI_Sendrecv(v + D.bound[send], (int)chunk_floats(send), MPI_FLOAT, next, 0, into, (int)chunk_floats(recv),
                     MPI_FLOAT, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Sendrecv (ring)");
  if (link_sim.bytes_per_second > 0) link_delay((int64_t)sizeof(float) * chunk_floats(send));
}

/* Reduce-scatter around the ring: size-1 messages of a slice each, after
 * which this rank's slice of v holds the sum over the ranks, added in ring
 * order (the same order in every run). */
static void reduce_scatter(float *v) {
  int R = D.size, r = D.rank;
  for (int s = 0; s < R - 1; s++) {
    int recv = (r + 2 * R - s - 2) % R;
    ring_step(v, (r + 2 * R - s - 1) % R, recv, D.buf);
    float *c = v + D.bound[recv];
    for (int64_t i = 0; i < chunk_floats(recv); i++) c[i] += D.buf[i];
  }
}

/* All-gather around the ring: every rank's slice of v to every rank, as
 * bits, in size-1 messages. */
static void all_gather(float *v) {
  int R = D.size, r = D.rank;
  for (int s = 0; s < R - 1; s++) {
    int recv = (r + 2 * R - s - 1) % R;
    ring_step(v, (r + R - s) % R, recv, v + D.bound[recv]);
  }
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

/* With clip_norm, the squared global norm of the summed gradients for the
 * slice update: each element clamped by clip_value first as the update's
 * float min and max do (NaN becomes c), each rank's slice summed in double,
 * the ranks' sums added in rank order on every rank, so every rank clips by
 * the same bits.  Every rank takes part, even one whose slice is empty (its
 * graph has no norm to read).  The padding between tensors in the buffer is
 * zero. */
static void global_norm(Trainer *t) {
  const OptimConfig *o = &t->m->optim;
  const float *g = t->s.store.grad;
  float c = (float)o->clip_value;
  double mine = 0, total = 0;
  for (int64_t i = D.bound[D.rank]; i < D.bound[D.rank + 1]; i++) {
    float x = g[i];
    if (o->clip_value > 0) {
      x = x < c ? x : c;
      x = -c < x ? x : -c;
    }
    mine += (double)x * x;
  }
  check(MPI_Allgather(&mine, 1, MPI_DOUBLE, D.each, 1, MPI_DOUBLE, MPI_COMM_WORLD), "MPI_Allgather (gradient norm)");
  for (int k = 0; k < D.size; k++) total += D.each[k];
  if (D.sumsq) *D.sumsq = (float)total;
}

/* Each shard's share of the global batch's mean gradient (the shard graph
 * weights its mean by its share, lower_grad_step), summed over the ranks in
 * this rank's slice, the only one its update reads: the global batch's mean
 * gradient.  (A job of one rank has nothing to sum.) */
static bool sum_gradients(Trainer *t, void *ctx) {
  (void)ctx;
  Store *st = &t->s.store;
  double t0 = clock_seconds();
  reduce_scatter(st->grad);
  if (D.clip_norm) global_norm(t);
  D.reduce_seconds += clock_seconds() - t0;
  D.reduces++;
  D.bytes = (long long)sizeof(float) * st->param_floats;
  return true;
}

/* A sharded update: every rank's slice of the new parameters to every rank. */
static void gather_params(Trainer *t) {
  double t0 = clock_seconds();
  all_gather(t->s.store.param);
  D.reduce_seconds += clock_seconds() - t0;
}

/* A sharded update keeps each rank's optimizer state current in its slice
 * only: every rank's slice of every per-parameter state tensor (Adam's
 * moments, momentum, ...) to every rank, before the whole store is read. */
static bool gather_state(Trainer *t, void *ctx) {
  (void)ctx;
  Store *st = &t->s.store;
  for (int i = 0; i < st->n; i++) {
    int p = st->t[i].op == OP_STATE ? optim_state_param(t->m, st->t[i].name) : -1;
    if (p < 0) continue;
    const Tensor *w = store_find(st, t->m->params[p].name);
    for (int k = 0; k < D.size; k++) {
      int64_t a = w->offset > D.bound[k] ? w->offset : D.bound[k];
      int64_t b = w->offset + w->numel < D.bound[k + 1] ? w->offset + w->numel : D.bound[k + 1];
      D.counts[k] = b > a ? (int)(b - a) : 0;
      D.displs[k] = b > a ? (int)(a - w->offset) : 0;
    }
    check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, store_data(st, &st->t[i]), D.counts, D.displs, MPI_FLOAT,
                         MPI_COMM_WORLD),
          "MPI_Allgatherv (optimizer state)");
  }
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
  gather_params(t);
  average_model_state(t);
  int stop = D.stop && *D.stop, any = 0;
  check(MPI_Allreduce(&stop, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (stop)");
  D.agreed = any;
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

/* Slices hold at most every parameter, and sema refuses models of more than
 * 2^28 parameter floats, so every count an MPI call takes fits its int. */
void dist_attach(Trainer *t, volatile sig_atomic_t *stop) {
  D.stop = stop;
  t->opt.stop = &D.agreed;   /* a signal after a step's agreement waits for the next one */
  D.clip_norm = t->update->kind == GRAPH_UPDATE_SLICE && t->m->optim.clip_norm > 0;
  D.each = xmalloc(sizeof(double) * (size_t)D.size);
  for (int i = 0; i < t->update->nfeeds; i++)
    if (strcmp(t->update->feeds[i].name, LOWER_CLIP_SUMSQ) == 0) D.sumsq = t->update->feeds[i].buf;
  D.bound = xmalloc(sizeof(int64_t) * (size_t)(D.size + 1));
  D.counts = xmalloc(sizeof(int) * (size_t)D.size);
  D.displs = xmalloc(sizeof(int) * (size_t)D.size);
  int64_t most = 0;
  for (int k = 0; k < D.size; k++) {
    trainer_slice(t, k, &D.bound[k], &D.bound[k + 1]);
    most = chunk_floats(k) > most ? chunk_floats(k) : most;
  }
  D.buf = xmalloc(sizeof(float) * (size_t)(most + 1));   /* + 1: no empty allocation */
  trainer_hook(t, TRAINER_BEFORE_UPDATE, sum_gradients, NULL);
  trainer_hook(t, TRAINER_AFTER_STEP, after_step, NULL);
  trainer_hook(t, TRAINER_AFTER_EPOCH, check_same_weights, NULL);
  if (t->update->kind == GRAPH_UPDATE_SLICE) trainer_hook(t, TRAINER_WHOLE_STORE, gather_state, NULL);
}

void dist_abort(int status) {
  fprintf(stderr, "nnc: rank %d of %d failed; stopping every rank\n", D.rank, D.size);
  fflush(NULL);
  MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
  exit(status ? status : 1);
}

void dist_finish(void) {
  free(D.bound);
  free(D.buf);
  free(D.counts);
  free(D.displs);
  free(D.each);
  MPI_Finalize();
}

/* "all-reduce": the gradients' reduce-scatter and the parameters'
 * all-gather, the two halves of a ring all-reduce. */
void dist_print_timings(FILE *out) {
  fprintf(out, "all-reduce: %lld steps, %lld bytes each, %.4f s on rank %d of %d (reduce-scatter + all-gather)\n",
          D.reduces, D.bytes, D.reduce_seconds, D.rank, D.size);
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
