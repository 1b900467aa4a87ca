/* plan: the static memory plan of a fused graph.
 *
 * In: a FusePlan.  Out: the list of steps one execution runs (the fuse groups
 * plus copies for outputs and updates), every buffer a step reads or writes
 * (a caller-bound leaf or a slice of one workspace), and the workspace size.
 * Everything is decided here, before code exists, so a run allocates nothing.
 *
 * Invariants: workspace buffers live at the same time never overlap, and a
 * step's output never shares memory with its inputs (so generated kernels may
 * mark their pointers noalias); offsets are multiples of the target's
 * alignment.  Scratch space for packed operands is the schedule's, after
 * the buffers (schedule.h).
 * An update is written into its leaf's buffer in place when the step computing
 * the new value is the last to read the old one and reads it only at the
 * element it writes; otherwise the value goes to the workspace and a final
 * copy step moves it into the leaf after every reader has run.  Outputs live
 * in buffers nothing overwrites until the next run.
 */
#ifndef NNC_PLAN_H
#define NNC_PLAN_H

#include "fuse.h"

typedef enum {
  STEP_GROUP,    /* run fuse group `group` */
  STEP_COPY,     /* dst[e] = src[e] for every element e of src's shape, row-major */
} StepKind;

typedef struct {
  StepKind kind;       /* what runs */
  int group;           /* STEP_GROUP: the group */
  const IrNode *src;   /* STEP_COPY: the value (read through its view, or folded if constant) */
  int src_buf;         /* STEP_COPY: >= 0: read src's elements contiguously from this buffer instead */
  int dst;             /* STEP_COPY: destination buffer */
} PlanStep;

typedef struct {
  int leaf;            /* >= 0: index among the plan's leaves; -1: workspace */
  int64_t offset;      /* workspace: offset in floats (multiple of 16) */
  int64_t numel;       /* floats */
} PlanBuf;

typedef struct {
  const FusePlan *fp;        /* the grouping planned */
  int nleaves;               /* INPUT/PARAM/STATE leaves, creation order */
  const IrNode **leaves;     /* arena array */
  int nbufs;                 /* buffers */
  PlanBuf *bufs;             /* arena array */
  int *buf_of;               /* per node id: buffer of a leaf or stored member; -1 otherwise */
  int nsteps;                /* steps, in execution order */
  PlanStep *steps;           /* arena array */
  int *output_buf;           /* per graph output: the contiguous buffer holding it after a run */
  int align;                 /* floats: every workspace offset is a multiple */
  int64_t workspace;         /* workspace floats the buffers need */
  Arena *arena;              /* owns the arrays */
} MemPlan;

/* align: floats every workspace offset is a multiple of (the target's). */
MemPlan *plan_memory(const FusePlan *fp, int align);
void plan_free(MemPlan *mp);

/* Buffer a non-constant node's elements live in (through its view). */
int plan_buf_of_view(const MemPlan *mp, const IrNode *n);

/* One line per step and buffer, for dumps and tests. */
void plan_print(FILE *out, const MemPlan *mp);

#endif
