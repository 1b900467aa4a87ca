/* dist: data-parallel training over MPI (see dist.h). */
#include "dist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
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
  MPI_Win win;             /* ranks on one machine: the memory they share (place_shared) */
  float **grads;           /* size: each rank's gradient buffer as this process sees it; NULL: the ring */
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

/* Where Open MPI backs shared windows: a file in this directory. */
static const char *shared_dir(void) {
  const char *d = getenv("OMPI_MCA_osc_sm_backing_directory");
  return d && *d ? d : "/dev/shm";
}

/* Whether that directory has room for `bytes` more. */
static int shared_room(double bytes) {
  struct statvfs fs;
  return statvfs(shared_dir(), &fs) == 0 && (double)fs.f_bavail * (double)fs.f_frsize >= bytes;
}

/* Memory the ranks share, made consistent at a point every rank reaches:
 * what each wrote before it is seen by every rank after it. */
static void shared_sync(const char *what) {
  MPI_Win_sync(D.win);
  check(MPI_Barrier(MPI_COMM_WORLD), what);
  MPI_Win_sync(D.win);
}

/* Ranks on one machine share memory (MPI_Win_allocate_shared): one
 * parameter buffer for all, and every rank's gradient buffer readable by the
 * others.  Summing a slice then reads the other ranks' gradients where they
 * lie, and the updated slices need no gathering: the exchange is one pass
 * over the buffer instead of the ring's copies.  Segment r holds rank r's
 * gradients, rank 0's the parameters after them, each buffer moved up to a
 * 64-byte boundary.  Without room for it in the directory that backs
 * Open MPI's shared windows (a container's small /dev/shm) every rank keeps
 * its own buffers and the ring: a failed allocation cannot be recovered from,
 * since the other ranks wait for it.  Every rank fills the
 * parameters (initial values, then a checkpoint's) before dist_attach's
 * barrier, so the first step reads what every rank restored; the early-
 * stopping restore later writes the bits the buffer already holds. */
static void place_shared(Store *s, void *ctx) {
  (void)ctx;
  int64_t n = s->param_floats, seg = STORE_ALIGN_FLOATS + (D.rank == 0 ? 2 * n : n);
  int room = shared_room((double)sizeof(float) * (double)(D.size + 1) * (double)n), all;
  check(MPI_Allreduce(&room, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce (shared memory)");
  if (!all) {
    if (D.rank == 0)
      fprintf(stderr, "nnc: note: %s cannot hold the %.0f MiB the ranks would share; exchanging gradients "
              "around a ring instead\n", shared_dir(), 4.0 * (D.size + 1) * (double)n / (1 << 20));
    return;
  }
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "alloc_shared_noncontig", "true");
  MPI_Aint bytes = (MPI_Aint)(sizeof(float) * (size_t)seg);
  float *mine;
  check(MPI_Win_allocate_shared(bytes, sizeof(float), info, MPI_COMM_WORLD, &mine, &D.win),
        "MPI_Win_allocate_shared (gradients and parameters)");
  MPI_Info_free(&info);
  D.grads = xmalloc(sizeof(float *) * (size_t)D.size);
  int *skip = xmalloc(sizeof(int) * 2 * (size_t)D.size), *low = skip + D.size;
  for (int k = 0; k < D.size; k++) {
    MPI_Aint size;
    int unit;
    check(MPI_Win_shared_query(D.win, k, &size, &unit, &D.grads[k]), "MPI_Win_shared_query");
    skip[k] = (int)(((uintptr_t)-(uintptr_t)D.grads[k] % (sizeof(float) * STORE_ALIGN_FLOATS)) / sizeof(float));
    D.grads[k] += skip[k];
  }
  /* a segment's address modulo 64 is the same in every process, the
   * mappings being page-aligned: the ranks check it rather than assume it */
  check(MPI_Allreduce(skip, low, D.size, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce (alignment)");
  int same = memcmp(skip, low, sizeof(int) * (size_t)D.size) == 0;
  free(skip);
  check(MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce (alignment)");
  if (!all) {
    free(D.grads);
    D.grads = NULL;
    check(MPI_Win_free(&D.win), "MPI_Win_free");
    return;
  }
  memset(mine, 0, (size_t)bytes);
  free(s->param);
  free(s->grad);
  s->param = D.grads[0] + n;
  s->grad = D.grads[D.rank];
  s->shared = true;
  check(MPI_Win_lock_all(MPI_MODE_NOCHECK, D.win), "MPI_Win_lock_all");
  shared_sync("MPI_Barrier (shared memory)");   /* zeroed before anyone writes */
}

/* acc[i] = g[i] + acc[i] for n a multiple of 16, in a form the compiler
 * vectorizes at -O2 (a fixed inner count). */
static void add_into(float *restrict acc, const float *restrict g, int64_t n) {
  for (int64_t i = 0; i < n; i += STORE_ALIGN_FLOATS)
    for (int k = 0; k < STORE_ALIGN_FLOATS; k++) acc[i + k] = g[i + k] + acc[i + k];
}

/* The shared-memory reduce-scatter: once every rank's gradients are in,
 * this rank's slice of their sum, added in the ring's order so that both
 * ways give the same bits (slice r's sum starts with rank r+1's gradients
 * and ends with rank r's own), in blocks that stay in L1.  Slice bounds
 * are multiples of 16 floats. */
static void sum_slice_shared(void) {
  shared_sync("MPI_Barrier (gradients)");
  enum { BLOCK = 1024 };
  float acc[BLOCK];
  int R = D.size, r = D.rank;
  for (int64_t at = D.bound[r]; at < D.bound[r + 1]; at += BLOCK) {
    int64_t n = D.bound[r + 1] - at < BLOCK ? D.bound[r + 1] - at : BLOCK;
    memcpy(acc, D.grads[(r + 1) % R] + at, sizeof(float) * (size_t)n);
    for (int j = 2; j <= R; j++) add_into(acc, D.grads[(r + j) % R] + at, n);
    memcpy(D.grads[r] + at, acc, sizeof(float) * (size_t)n);
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
  /* every rank on this machine, and no simulated link between them */
  MPI_Comm node;
  int node_size = 0;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    MPI_Comm_size(node, &node_size);
    MPI_Comm_free(&node);
  }
  if (node_size == D.size && D.size > 1 && link_sim.bytes_per_second == 0) r->place = place_shared;
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
  if (D.grads) sum_slice_shared();
  else reduce_scatter(st->grad);
  if (D.clip_norm) global_norm(t);
  D.reduce_seconds += clock_seconds() - t0;
  D.reduces++;
  D.bytes = (long long)sizeof(float) * st->param_floats;
  return true;
}

/* A sharded update: every rank's slice of the new parameters to every rank
 * (in shared memory, every rank's writes to the one buffer made seen). */
static void gather_params(Trainer *t) {
  double t0 = clock_seconds();
  if (D.grads) shared_sync("MPI_Barrier (parameters)");
  else all_gather(t->s.store.param);
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

/* A hash of n floats (a multiple of 16): FNV-1a over 64-bit words in four
 * interleaved lanes, so that no multiplication waits on the one before. */
static uint64_t hash_floats(uint64_t h, const float *p, int64_t n) {
  uint64_t lane[4] = {h, h + 1, h + 2, h + 3};
  for (int64_t i = 0; i < n; i += 8) {
    uint64_t w[4];
    memcpy(w, p + i, sizeof w);
    for (int k = 0; k < 4; k++) lane[k] = (lane[k] ^ w[k]) * 0x100000001b3ull;
  }
  return (lane[0] ^ lane[1] * 3) ^ (lane[2] * 5 ^ lane[3] * 7);
}

/* The ranks' parameters and state must be the same bits after every epoch
 * (parameters in shared memory are one buffer: only the state can differ). */
static bool check_same_weights(Trainer *t, void *ctx) {
  (void)ctx;
  const Store *st = &t->s.store;
  uint64_t h = hash_floats(0xcbf29ce484222325ull, st->state, st->state_floats);
  if (!D.grads) h = hash_floats(h, st->param, st->param_floats);
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
  /* every rank's initial and restored parameters are in before any step reads them */
  if (D.grads) shared_sync("MPI_Barrier (initial parameters)");
}

void dist_abort(int status) {
  fprintf(stderr, "nnc: rank %d of %d failed; stopping every rank\n", D.rank, D.size);
  fflush(NULL);
  MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
  exit(status ? status : 1);
}

void dist_finish(void) {
  if (D.grads) {
    MPI_Win_unlock_all(D.win);
    MPI_Win_free(&D.win);
  }
  free(D.grads);
  free(D.bound);
  free(D.buf);
  free(D.counts);
  free(D.displs);
  free(D.each);
  MPI_Finalize();
}

/* "all-reduce": summing the gradients and sharing the updated parameters,
 * waits for the other ranks included. */
void dist_print_timings(FILE *out) {
  fprintf(out, "all-reduce: %lld steps, %lld bytes each, %.4f s on rank %d of %d (%s)\n", D.reduces, D.bytes,
          D.reduce_seconds, D.rank, D.size,
          D.grads ? "summed in shared memory" : "reduce-scatter + all-gather around a ring");
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
