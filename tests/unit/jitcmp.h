/* jitcmp: generated code against the reference evaluator, for the suites
 * that test the back end (check_codegen.c, check_conv.c).  Tolerance:
 * |jit - eval| <= 1e-5 + 1e-4 |eval| (float32 arithmetic, FMA contraction
 * and reassociated sums against exact double); NaN matches NaN and
 * infinities match themselves. */
#ifndef NNC_JITCMP_H
#define NNC_JITCMP_H

#include <stdint.h>

#include "ir.h"
#include "jit.h"

typedef struct {
  int bad;            /* elements out of tolerance */
  char where[160];    /* the first one */
} Cmp;

/* A leaf's starting value e; NULL fills uniformly in [lo, hi). */
typedef double (*FillFn)(const IrNode *leaf, int64_t e, uint64_t *seed);

/* Deterministic values in [lo, hi). */
double jitcmp_rnd(uint64_t *s, double lo, double hi);

/* Runs g through the JIT (compiled with opt) `steps` times and the evaluator
 * alongside (feeding updates back), comparing outputs and updated leaves;
 * leaf values come from `seed`.  bad == 0 is a pass. */
Cmp jitcmp_run(IrGraph *g, uint64_t seed, double lo, double hi, int steps, FillFn fill, const JitOptions *opt);

#endif
