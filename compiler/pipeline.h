/* pipeline: the stages from a checked model to machine code, written once.
 *
 *   lower -> gradients -> optimizer -> simplify      pipeline_graph
 *   fuse -> plan -> schedule                         pipeline_plan
 *   codegen -> LLVM -O3 -> machine code               jit.c (run here) or compile.c (object file)
 *
 * Every command that compiles (train, eval, predict, check, compile, ir,
 * llvm, grad) takes its graphs and plans from here, so what `nnc ir
 * --stage=schedule` prints is what `nnc train` runs.  Each stage adds its
 * time to a per-process account (pipeline_times) that `nnc train --timings`
 * and `make bench` print.
 */
#ifndef NNC_PIPELINE_H
#define NNC_PIPELINE_H

#include "fuse.h"
#include "ir.h"
#include "plan.h"
#include "schedule.h"
#include "lower.h"
#include "sema.h"
#include "target.h"

typedef enum {
  PIPE_FORWARD,   /* evaluation mode: "loss", "output" */
  PIPE_GRAD,      /* training-mode forward + "grad NAME" per parameter */
  PIPE_TRAIN,     /* forward + gradients + clipping + optimizer updates: one train step */
  PIPE_GRAD_STEP, /* PIPE_TRAIN's first half: forward + gradients into "grad NAME" STATE leaves */
  PIPE_UPDATE,    /* its second half: clipping + updates from "grad NAME" INPUT leaves (batch ignored) */
} PipeGraph;

/* The graph, simplified unless raw (in arena a). */
IrGraph *pipeline_graph(const Model *m, Arena *a, PipeGraph what, int batch, bool raw);
/* PIPE_GRAD_STEP for a shard of a larger batch of `total` samples: samples
 * first.. of it (the dropout masks are those of the larger batch's samples,
 * the gradients the shard's share of its mean, lower_grad_step); other
 * graphs ignore first and total. */
IrGraph *pipeline_shard_graph(const Model *m, Arena *a, PipeGraph what, int batch, int first, int total, bool raw);
/* The update of pieces of the parameters (lower_update_slice), simplified. */
IrGraph *pipeline_update_slice(const Model *m, Arena *a, const LowerPiece *piece);

/* A graph's kernels, buffers and schedule for target t. */
typedef struct {
  const IrGraph *g;     /* the graph */
  FusePlan *fp;         /* its kernels */
  MemPlan *mp;          /* its buffers */
  Schedule *sched;      /* loops, tiles, thread splits */
} Planned;

Planned *pipeline_plan(const IrGraph *g, const Target *t);
void pipeline_plan_free(Planned *p);

/* Seconds spent in each stage since the process started. */
typedef enum {
  STAGE_LOWER, STAGE_SIMPLIFY, STAGE_FUSE, STAGE_PLAN, STAGE_SCHEDULE, STAGE_CODEGEN, STAGE_OPTIMIZE,
  STAGE_MACHINE, STAGE_LOAD, STAGE_CACHE, STAGE_COUNT
} Stage;
double pipeline_clock(void);
void pipeline_account(Stage s, double seconds);
/* "lower 0.002, simplify 0.004, ..., LLVM optimize 0.120, ..." for stages that took time. */
void pipeline_print_times(FILE *out);

#endif
