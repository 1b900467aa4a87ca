/* xor_loop: W4 of `make bench`, the cost of one training step of
 * examples/xor.nn (2-4-1, batch 4, Adam) through the object `nnc compile`
 * writes, called from a plain C loop.
 *
 *   xor_loop [--runs N]   prints: us_per_step=X steps=S final_loss=L
 *
 * Each run times S steps (about 0.1 s) on the four rows of the truth table;
 * the figure is the best of N runs, over the thread's CPU time (other jobs'
 * time slices on a shared machine do not count).  Flush-to-zero is on, as
 * docs/abi.md advises for training.  The final loss shows the steps did
 * their work (it falls below 0.01).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "xor.h"

static const float x[XOR_INPUT_FLOATS] = {0, 0, 0, 1, 1, 0, 1, 1};
static const float y[XOR_TARGET_FLOATS] = {0, 1, 1, 0};

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds per step over `steps` steps; *loss is the last one. */
static double time_steps(void *state, long steps, float *loss) {
  double t0 = cpu_seconds();
  for (long i = 0; i < steps; i++) *loss = xor_train_step(state, x, y);
  return (cpu_seconds() - t0) / (double)steps;
}

int main(int argc, char **argv) {
  int runs = 3;
  if (argc == 3 && strcmp(argv[1], "--runs") == 0) runs = atoi(argv[2]);
  if (runs < 1 || (argc != 1 && argc != 3)) {
    fprintf(stderr, "usage: xor_loop [--runs N]\n");
    return 2;
  }
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
  void *state = aligned_alloc(XOR_STATE_ALIGN, XOR_STATE_BYTES);
  if (!state || xor_init(state, 1) != 0) {
    fprintf(stderr, "xor_loop: cannot set up the state block\n");
    return 1;
  }
  float loss = 0;
  long steps = 1000;   /* grown until a run takes about 0.1 s */
  while (time_steps(state, steps, &loss) * (double)steps < 0.1) steps *= 2;
  double best = 1e30;
  for (int r = 0; r < runs; r++) {
    double t = time_steps(state, steps, &loss);
    if (t < best) best = t;
  }
  printf("us_per_step=%.4f steps=%ld final_loss=%.9g\n", best * 1e6, steps, loss);
  free(state);
  return 0;
}
