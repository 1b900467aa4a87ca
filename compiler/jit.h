/* jit: compile an IR graph to native code in-process and run it.
 *
 * jit_compile runs the back half of the pipeline (pipeline.h: fuse, plan,
 * schedule), builds the LLVM module (codegen.h), optimizes it at
 * -O<opt_level> for the target and hands it to an ORC LLJIT -- or loads the
 * same object code from the compile cache (cache.h).  The caller binds one
 * float buffer per leaf (INPUT/PARAM/STATE the graph reads or updates, numel
 * floats, aligned to the target) and calls jit_run as often as it likes:
 * outputs are then readable through jit_output and every update has been
 * written into its leaf's buffer.  With a pool of several threads, jit_run
 * shares each step out as the schedule says, or runs on one thread when
 * timing shows the machine too busy for threads to help; results are
 * bit-identical for every thread count.  A run allocates nothing; the workspace is allocated
 * at compile time.  The graph must outlive the JitGraph (leaves and outputs
 * point into it).  Floating-point environment (flush-to-zero etc.) is the
 * caller's; the pool's workers take it at every run.
 */
#ifndef NNC_JIT_H
#define NNC_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ir.h"
#include "pool.h"
#include "target.h"

typedef struct JitGraph JitGraph;

typedef struct {
  int opt_level;          /* 0..3 (NULL options: 3) */
  FILE *dump_before;      /* non-NULL: print LLVM IR before optimization (no cache) */
  FILE *dump_after;       /* non-NULL: print LLVM IR after optimization (no cache) */
  const Target *target;   /* NULL: the host; must be one the host can run */
  Pool *pool;             /* NULL: one thread */
  bool no_cache;          /* compile even when the cache holds the code */
  bool always_pool;       /* every run on all the pool's threads, never adapted
                           * to one (tests: the split must be exercised) */
} JitOptions;

/* NULL + message on failure (opt may be NULL: defaults). */
JitGraph *jit_compile(const IrGraph *g, const JitOptions *opt, char *err, size_t errlen);
/* INPUT/PARAM/STATE leaves the graph reads or updates, in creation order. */
int jit_nleaves(const JitGraph *j);
const IrNode *jit_leaf(const JitGraph *j, int i);
/* Caller-owned buffer of numel floats (aligned to the target) for leaf i. */
void jit_bind(JitGraph *j, int i, float *buf);
/* One execution: outputs computed, updates written into the bound leaf buffers. */
void jit_run(JitGraph *j);
/* Valid after jit_run, until the next run; NULL if no such output. */
const float *jit_output(const JitGraph *j, const char *name);
/* The fused kernels and the IR nodes each contains (`nnc ir --stage=fused`). */
void jit_print_kernels(FILE *out, const JitGraph *j);
/* Workspace floats allocated for intermediates and scratch. */
long long jit_workspace_floats(const JitGraph *j);
/* Profiling: from now on every run times each step in thread 0's CPU time
 * (so a split step's time includes spinning for the others, and time other
 * processes take is not counted).  jit_print_profile
 * prints one line per step, slowest first, with its share and GFLOP/s. */
void jit_profile(JitGraph *j, bool on);
void jit_print_profile(FILE *out, const JitGraph *j);
/* Runs that went to one thread although the pool has more (a busy machine). */
long long jit_single_runs(const JitGraph *j);
/* Whether the code came from the compile cache. */
bool jit_from_cache(const JitGraph *j);
void jit_free(JitGraph *j);

#endif
