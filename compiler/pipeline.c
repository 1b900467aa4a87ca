/* pipeline: the stage sequence, in one place (see pipeline.h). */
#include "pipeline.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "lower.h"

static const char *const stage_names[STAGE_COUNT] = {
  [STAGE_LOWER] = "lower", [STAGE_SIMPLIFY] = "simplify", [STAGE_FUSE] = "fuse", [STAGE_PLAN] = "plan",
  [STAGE_SCHEDULE] = "schedule", [STAGE_CODEGEN] = "codegen", [STAGE_OPTIMIZE] = "LLVM optimize",
  [STAGE_MACHINE] = "LLVM machine code", [STAGE_LOAD] = "load", [STAGE_CACHE] = "cache",
};

/* nanoseconds per stage; atomic because graphs may compile on several threads */
static _Atomic long long stage_ns[STAGE_COUNT];

double pipeline_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pipeline_account(Stage s, double seconds) { atomic_fetch_add(&stage_ns[s], (long long)(seconds * 1e9)); }

void pipeline_print_times(FILE *out) {
  const char *sep = "";
  for (int s = 0; s < STAGE_COUNT; s++) {
    long long ns = atomic_load(&stage_ns[s]);
    if (ns == 0) continue;
    fprintf(out, "%s%s %.3f", sep, stage_names[s], 1e-9 * (double)ns);
    sep = ", ";
  }
  fprintf(out, "%s\n", *sep ? " s" : "nothing compiled");
}

IrGraph *pipeline_graph(const Model *m, Arena *a, PipeGraph what, int batch, bool raw) {
  return pipeline_shard_graph(m, a, what, batch, 0, batch, raw);
}

IrGraph *pipeline_shard_graph(const Model *m, Arena *a, PipeGraph what, int batch, int first, int total, bool raw) {
  double t0 = pipeline_clock();
  IrGraph *g = what == PIPE_TRAIN       ? lower_train_step(m, a, batch)
               : what == PIPE_GRAD      ? lower_grad(m, a, batch)
               : what == PIPE_GRAD_STEP ? lower_grad_step(m, a, batch, first, total)
               : what == PIPE_UPDATE    ? lower_update_step(m, a)
                                        : lower_forward(m, a, batch, false);
  double t1 = pipeline_clock();
  pipeline_account(STAGE_LOWER, t1 - t0);
  if (raw) return g;
  g = ir_simplify(g);
  pipeline_account(STAGE_SIMPLIFY, pipeline_clock() - t1);
  return g;
}

IrGraph *pipeline_update_slice(const Model *m, Arena *a, const LowerPiece *piece) {
  double t0 = pipeline_clock();
  IrGraph *g = lower_update_slice(m, a, piece);
  double t1 = pipeline_clock();
  pipeline_account(STAGE_LOWER, t1 - t0);
  g = ir_simplify(g);
  pipeline_account(STAGE_SIMPLIFY, pipeline_clock() - t1);
  return g;
}

Planned *pipeline_plan(const IrGraph *g, const Target *t) {
  Planned *p = xcalloc(1, sizeof *p);
  p->g = g;
  double t0 = pipeline_clock();
  p->fp = fuse_graph(g);
  double t1 = pipeline_clock();
  p->mp = plan_memory(p->fp, t->align / 4);
  double t2 = pipeline_clock();
  p->sched = schedule_plan(p->mp, t);
  double t3 = pipeline_clock();
  pipeline_account(STAGE_FUSE, t1 - t0);
  pipeline_account(STAGE_PLAN, t2 - t1);
  pipeline_account(STAGE_SCHEDULE, t3 - t2);
  return p;
}

void pipeline_plan_free(Planned *p) {
  if (!p) return;
  schedule_free(p->sched);
  plan_free(p->mp);
  fuse_free(p->fp);
  free(p);
}
