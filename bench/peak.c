/* peak: this CPU's fused multiply-add peak, the yardstick of `make bench`.
 *
 * Built with -O2 -march=native, so the vector width is the widest the
 * compiler macros announce (AVX-512, AVX2 + FMA, NEON; plain vectors with a
 * separate multiply and add otherwise).  Each thread runs CHAINS independent
 * accumulator chains, acc = acc * m + c: enough to cover FMA latency times
 * throughput on the cores we know (latency 4-5 cycles, 2 pipes; 16 chains
 * where there are 32 vector registers, 12 where there are 16).  The values
 * converge to c / (1 - m), so nothing overflows or turns denormal.
 *
 *   peak [--runs N]   prints: isa=... vector_floats=... chains=...
 *                             peak1_gflops=... peak2_gflops=...
 * Each figure is the best of N runs of about 0.1 s; the 2-core figure runs
 * two threads at once and adds their rates ("none" with a single CPU).  A
 * thread's rate is its work over its own CPU time, so the time slices other
 * jobs on a shared machine take do not count: the peak is the core's.  The
 * wall-clock figures (wall1_gflops, wall2_gflops) show how much the machine
 * let us have.
 *
 * It also prints line_roundtrip_ns: how long a cache line takes to go from
 * one of the first two CPUs to the other and back (two threads pinned there
 * pass a counter), the best of N runs.  Threads that split a step hand their
 * results over that way at every barrier; on the virtual machines nnc is
 * measured on it moved from tens to hundreds of ns between sessions as the
 * host placed the two vCPUs, and with it what a second thread gains.
 */
#include <stdatomic.h>
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS_12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define CHAINS_16(X) CHAINS_12(X) X(12) X(13) X(14) X(15)

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vec;
#define ISA "avx512"
#define VEC_FLOATS 16
#define NCHAINS 16
#define CHAINS CHAINS_16
#define SPLAT(x) _mm512_set1_ps(x)
#define MADD(a, m, c) _mm512_fmadd_ps(a, m, c)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vec;
#define ISA "avx2+fma"
#define VEC_FLOATS 8
#define NCHAINS 12
#define CHAINS CHAINS_12
#define SPLAT(x) _mm256_set1_ps(x)
#define MADD(a, m, c) _mm256_fmadd_ps(a, m, c)
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
typedef float32x4_t vec;
#define ISA "neon"
#define VEC_FLOATS 4
#define NCHAINS 16
#define CHAINS CHAINS_16
#define SPLAT(x) vdupq_n_f32(x)
#define MADD(a, m, c) vfmaq_f32(c, a, m)
#else
typedef float vec __attribute__((vector_size(16)));
#define ISA "generic (no FMA: multiply + add)"
#define VEC_FLOATS 4
#define NCHAINS 12
#define CHAINS CHAINS_12
#define SPLAT(x) ((vec){x, x, x, x})
#define MADD(a, m, c) ((a) * (m) + (c))
#endif

enum { UNROLL = 4 };   /* chain rounds per loop iteration */

static volatile float sink;   /* keeps the accumulators alive */

static double clock_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double flops_of(long iters) { return (double)iters * UNROLL * NCHAINS * VEC_FLOATS * 2.0; }

/* iters x UNROLL rounds of NCHAINS multiply-adds; the accumulators stay in
 * registers (one variable each). */
static void chains(long iters) {
  vec m = SPLAT(0.999f), c = SPLAT(0.001f);
#define DECLARE(k) vec a##k = SPLAT((float)(k) * 0.01f);
  CHAINS(DECLARE)
  for (long i = 0; i < iters; i++) {
#define STEP(k) a##k = MADD(a##k, m, c);
    CHAINS(STEP) CHAINS(STEP) CHAINS(STEP) CHAINS(STEP)
  }
  vec s = SPLAT(0.0f);
#define SUM(k) s = s + a##k;
  CHAINS(SUM)
  float out[VEC_FLOATS];
  memcpy(out, &s, sizeof out);
  sink = out[0];
}

typedef struct {
  long iters;       /* in: rounds to run */
  double gflops;    /* out: over the thread's CPU time */
} Job;

static void *run_job(void *arg) {
  Job *j = arg;
  double t0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
  chains(j->iters);
  j->gflops = flops_of(j->iters) / (clock_seconds(CLOCK_THREAD_CPUTIME_ID) - t0) * 1e-9;
  return NULL;
}

typedef struct {
  double cpu, wall;   /* GFLOP/s: the threads' rates added; all work over wall time */
} Rate;

/* `threads` threads (1 or 2) running `iters` rounds each at once. */
static Rate measure(int threads, long iters) {
  Job job[2] = {{iters, 0}, {iters, 0}};
  pthread_t th;
  double t0 = clock_seconds(CLOCK_MONOTONIC);
  if (threads == 2 && pthread_create(&th, NULL, run_job, &job[1]) != 0) return (Rate){0, 0};
  run_job(&job[0]);
  if (threads == 2) pthread_join(th, NULL);
  double wall = clock_seconds(CLOCK_MONOTONIC) - t0;
  return (Rate){job[0].gflops + job[1].gflops, threads * flops_of(iters) / wall * 1e-9};
}

static Rate best_of(int runs, int threads, long iters) {
  Rate best = {0, 0};
  for (int r = 0; r < runs; r++) {
    Rate x = measure(threads, iters);
    if (x.cpu > best.cpu) best.cpu = x.cpu;
    if (x.wall > best.wall) best.wall = x.wall;
  }
  return best;
}

/* ---- a cache line between two CPUs ---- */

enum { HANDOFFS = 200000 };

typedef struct {
  _Alignas(64) atomic_long turn;   /* odd: the second thread's move */
  int cpu[2];                      /* where the two threads run */
} PingPong;

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *pong(void *arg) {
  PingPong *p = arg;
  pin(p->cpu[1]);
  for (long i = 1; i < 2 * HANDOFFS; i += 2) {
    while (atomic_load_explicit(&p->turn, memory_order_acquire) != i) {
    }
    atomic_store_explicit(&p->turn, i + 1, memory_order_release);
  }
  return NULL;
}

/* ns for the line to go there and back, or 0 where threads cannot be made. */
static double roundtrip_ns(const cpu_set_t *cpus) {
  PingPong p = {.cpu = {-1, -1}};
  for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
    if (CPU_ISSET(c, cpus)) p.cpu[k++] = c;
  atomic_init(&p.turn, 0);
  pthread_t th;
  if (pthread_create(&th, NULL, pong, &p) != 0) return 0;
  pin(p.cpu[0]);
  double t0 = clock_seconds(CLOCK_MONOTONIC);
  for (long i = 0; i < 2 * HANDOFFS; i += 2) {
    atomic_store_explicit(&p.turn, i + 1, memory_order_release);
    while (atomic_load_explicit(&p.turn, memory_order_acquire) != i + 2) {
    }
  }
  double ns = (clock_seconds(CLOCK_MONOTONIC) - t0) / HANDOFFS * 1e9;
  pthread_join(th, NULL);
  sched_setaffinity(0, sizeof *cpus, cpus);
  return ns;
}

int main(int argc, char **argv) {
  int runs = 3;
  if (argc == 3 && strcmp(argv[1], "--runs") == 0) runs = atoi(argv[2]);
  if (runs < 1 || (argc != 1 && argc != 3)) {
    fprintf(stderr, "usage: peak [--runs N]\n");
    return 2;
  }
  long iters = 1 << 16;   /* grown until one run takes about 0.1 s of CPU time */
  while (flops_of(iters) / (best_of(1, 1, iters).cpu * 1e9) < 0.1) iters *= 2;
  cpu_set_t cpus;
  int ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  Rate one = best_of(runs, 1, iters);
  printf("isa=%s vector_floats=%d chains=%d peak1_gflops=%.2f wall1_gflops=%.2f", ISA, VEC_FLOATS, NCHAINS, one.cpu,
         one.wall);
  if (ncpu < 2) {
    printf(" peak2_gflops=none wall2_gflops=none\n");
    return 0;
  }
  Rate two = best_of(runs, 2, iters);
  double trip = 0;
  for (int r = 0; r < runs; r++) {
    double t = roundtrip_ns(&cpus);
    if (t > 0 && (trip == 0 || t < trip)) trip = t;
  }
  printf(" peak2_gflops=%.2f wall2_gflops=%.2f line_roundtrip_ns=%.0f\n", two.cpu, two.wall, trip);
  return 0;
}
