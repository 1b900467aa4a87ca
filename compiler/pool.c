/* pool: spin-then-sleep worker threads (see pool.h). */
#include "pool.h"

#include <errno.h>
#include <fenv.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Spins before sleeping for 0.1 ms, more than the gap between two training
 * steps, so workers stay awake through a run of steps.  Bounded by time, not
 * by count: a pause takes from about 10 to 140 cycles, depending on the CPU.
 * The clock is read every SPIN_CHECK pauses. */
enum { SPIN_NS = 100000, SPIN_CHECK = 64 };

/* A word threads wait on until it changes, and how many sleep on it. */
typedef struct {
  _Atomic uint32_t value;
  _Atomic int sleepers;
} Word;

struct Pool {
  int n;                       /* threads, the caller included */
  pthread_t *workers;          /* n - 1 */
  Word job;                    /* bumped to start a run */
  Word done;                   /* workers finished with the current run */
  Word bar_gen;                /* bumped when a barrier opens */
  _Atomic int bar_count;       /* threads at the current barrier */
  _Atomic int quit;            /* workers exit at the next job */
  PoolFn fn;                   /* the run's function ... */
  void *ctx;                   /* ... and its argument */
  fenv_t env;                  /* the caller's floating-point environment */
};

typedef struct {
  Pool *p;
  int tid;
} WorkerArg;

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits until w->value != old; returns the new value. */
static uint32_t wait_change(Word *w, uint32_t old) {
  int64_t until = 0;
  for (unsigned i = 0;; i++) {
    uint32_t v = atomic_load_explicit(&w->value, memory_order_acquire);
    if (v != old) return v;
    if (i % SPIN_CHECK == 0) {
      int64_t t = now_ns();
      if (until == 0) until = t + SPIN_NS;
      else if (t >= until) break;
    }
    cpu_relax();
  }
  for (;;) {
    atomic_fetch_add(&w->sleepers, 1);
    if (atomic_load(&w->value) == old) syscall(SYS_futex, &w->value, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
    atomic_fetch_sub(&w->sleepers, 1);
    uint32_t v = atomic_load(&w->value);
    if (v != old) return v;
  }
}

/* Wakes the sleepers of w after a seq_cst change of w->value (so a waiter
 * that saw the old value is counted). */
static void wake(Word *w) {
  if (atomic_load(&w->sleepers) > 0) syscall(SYS_futex, &w->value, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Sets w->value and wakes its sleepers. */
static void publish(Word *w, uint32_t v) {
  atomic_store(&w->value, v);
  wake(w);
}

static void *worker(void *arg) {
  WorkerArg *wa = arg;
  Pool *p = wa->p;
  int tid = wa->tid;
  free(wa);
  uint32_t seen = 0;
  for (;;) {
    seen = wait_change(&p->job, seen);
    if (atomic_load(&p->quit)) return NULL;
    fesetenv(&p->env);
    p->fn(p->ctx, tid, p->n);
    /* the increment is the publication: storing d again after it could
     * overwrite the 0 the caller's next pool_run has already written */
    uint32_t d = atomic_fetch_add(&p->done.value, 1) + 1;
    if ((int)d == p->n - 1) wake(&p->done);
  }
}

Pool *pool_new(int threads, char *err, size_t errlen) {
  Pool *p = xcalloc(1, sizeof *p);
  p->n = threads < 1 ? 1 : threads;
  p->workers = xcalloc((size_t)p->n, sizeof(pthread_t));
  for (int i = 1; i < p->n; i++) {
    WorkerArg *wa = xmalloc(sizeof *wa);
    *wa = (WorkerArg){p, i};
    int rc = pthread_create(&p->workers[i - 1], NULL, worker, wa);
    if (rc != 0) {
      free(wa);
      snprintf(err, errlen, "cannot start thread %d of %d: %s", i + 1, p->n, strerror(rc));
      p->n = i;   /* pool_free joins the ones started */
      pool_free(p);
      return NULL;
    }
  }
  return p;
}

int pool_threads(const Pool *p) { return p ? p->n : 1; }

void pool_run(Pool *p, PoolFn fn, void *ctx) {
  if (p->n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  fegetenv(&p->env);
  atomic_store(&p->done.value, 0);
  publish(&p->job, atomic_load(&p->job.value) + 1);
  fn(ctx, 0, p->n);
  uint32_t d = atomic_load(&p->done.value);
  while ((int)d != p->n - 1) d = wait_change(&p->done, d);
}

void pool_barrier(Pool *p) {
  if (p->n == 1) return;
  uint32_t gen = atomic_load(&p->bar_gen.value);
  if (atomic_fetch_add(&p->bar_count, 1) + 1 == p->n) {
    atomic_store(&p->bar_count, 0);
    publish(&p->bar_gen, gen + 1);
  } else {
    wait_change(&p->bar_gen, gen);
  }
}

void pool_free(Pool *p) {
  if (!p) return;
  atomic_store(&p->quit, 1);
  publish(&p->job, atomic_load(&p->job.value) + 1);
  for (int i = 1; i < p->n; i++) pthread_join(p->workers[i - 1], NULL);
  free(p->workers);
  free(p);
}

int pool_default_threads(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}
