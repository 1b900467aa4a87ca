/* jit: compile an IR graph to native code in-process and run it.
 *
 * jit_compile fuses the graph (fuse.h), plans its memory (plan.h), builds the
 * LLVM module (codegen.h), optimizes it at -O<opt_level> for the host CPU and
 * hands it to an ORC LLJIT.  The caller binds one float buffer per leaf
 * (INPUT/PARAM/STATE the graph reads or updates, numel floats, 64-byte
 * aligned) and calls jit_run as often as it likes: outputs are then readable
 * through jit_output and every update has been written into its leaf's
 * buffer.  A run allocates nothing; the workspace is allocated at compile time.
 * The graph must outlive the JitGraph (leaves and outputs point into it).
 * Floating-point environment (flush-to-zero etc.) is the caller's.
 */
#ifndef NNC_JIT_H
#define NNC_JIT_H

#include <stddef.h>
#include <stdio.h>

#include "ir.h"

typedef struct JitGraph JitGraph;

typedef struct {
  int opt_level;       /* 0..3, default 3 */
  FILE *dump_before;   /* non-NULL: print LLVM IR before optimization */
  FILE *dump_after;    /* non-NULL: print LLVM IR after optimization */
} JitOptions;

/* NULL + message on failure (opt may be NULL: defaults). */
JitGraph *jit_compile(const IrGraph *g, const JitOptions *opt, char *err, size_t errlen);
/* INPUT/PARAM/STATE leaves the graph reads or updates, in creation order. */
int jit_nleaves(const JitGraph *j);
const IrNode *jit_leaf(const JitGraph *j, int i);
/* Caller-owned buffer of numel floats (64-byte aligned) for leaf i. */
void jit_bind(JitGraph *j, int i, float *buf);
/* One execution: outputs computed, updates written into the bound leaf buffers. */
void jit_run(JitGraph *j);
/* Valid after jit_run, until the next run; NULL if no such output. */
const float *jit_output(const JitGraph *j, const char *name);
/* The fused kernels and the IR nodes each contains (`nnc ir --stage=fused`). */
void jit_print_kernels(FILE *out, const JitGraph *j);
/* Workspace floats allocated for intermediates (the static memory plan). */
long long jit_workspace_floats(const JitGraph *j);
void jit_free(JitGraph *j);

#endif
