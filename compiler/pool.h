/* pool: the persistent threads the JIT runs a graph's steps on.
 *
 * pool_run calls fn(ctx, tid, n) on every thread of the pool at once (the
 * caller is thread 0) and returns when all have returned; inside fn,
 * pool_barrier waits until every thread has reached it.  Idle workers and
 * threads at a barrier spin briefly, then sleep in the kernel (futex): on
 * two shared cores, threads that spin forever take the time the others
 * need.  Workers run with the caller's floating-point environment
 * (flush-to-zero and rounding), taken at every pool_run.
 */
#ifndef NNC_POOL_H
#define NNC_POOL_H

#include <stddef.h>

typedef struct Pool Pool;
typedef void (*PoolFn)(void *ctx, int tid, int nthreads);

/* A pool of `threads` threads (the caller and threads-1 workers).  NULL +
 * message when a thread cannot be started. */
Pool *pool_new(int threads, char *err, size_t errlen);
int pool_threads(const Pool *p);
void pool_run(Pool *p, PoolFn fn, void *ctx);
void pool_barrier(Pool *p);
void pool_free(Pool *p);

/* The CPUs this process may run on (sched_getaffinity), at least 1. */
int pool_default_threads(void);

#endif
