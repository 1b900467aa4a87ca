/* codegen: the LLVM module of a scheduled graph (LLVM C API).
 *
 * In: a Schedule (and through it the MemPlan, FusePlan, IrGraph and Target).
 * Out: an LLVM module with one internal function per step, taking the
 * buffers it uses, its scratch (if any) and the unit bounds [lo, hi) the
 * schedule split it into, and one external entry
 *     void ENTRY(float **leaves, float *workspace)
 * that runs every step whole, in order; leaves[i] is the buffer of the plan's
 * leaf i, workspace holds schedule_workspace(s, 1) floats, aligned to the
 * target.  With step_entries, also one external function per step,
 *     void ENTRY.stepN(float **leaves, float *workspace, float *scratch, int64_t lo, int64_t hi)
 * which the JIT's thread pool calls (jit.c).  The module calls nothing of
 * nnc's (only libm: logf, sinf, ...), so it can be JIT-run or written to an
 * object file.  Every function carries the target's CPU, features and vector
 * width; kernel pointer arguments are noalias (the plan guarantees it).
 * Elementwise and reduction loops are plain scalar IR in a form LLVM's loop
 * vectorizer takes; matrix products (gemm.c) use explicit vectors.
 *
 * The second half of this header is the code generator's own toolkit, shared
 * by codegen.c and gemm.c.
 */
#ifndef NNC_CODEGEN_H
#define NNC_CODEGEN_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "schedule.h"

LLVMModuleRef codegen_module(LLVMContextRef ctx, const Schedule *s, const char *entry, bool step_entries);
/* Verifies mod, sets its target triple and data layout from tm and runs
 * "default<O<opt_level>>" with it (no loop unrolling: see docs/backend.md).
 * The JIT and the object writer both come here, each with a machine made by
 * target_machine.  dump_before/dump_after, when non-NULL, get the module's
 * text.  false + message in err on failure. */
bool codegen_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, FILE *dump_before,
                      FILE *dump_after, char *err, size_t errlen);

/* ---- shared by codegen.c and gemm.c ---- */

/* A point of a group's space inside generated loops: offset of an access with
 * space strides st is sum_j idx[j] * st[dim[j]]. */
typedef struct {
  int n;                           /* index values */
  LLVMValueRef idx[IR_MAX_DIMS];   /* i64 index values */
  int dim[IR_MAX_DIMS];            /* space axis whose stride multiplies idx[j] */
} CgPoint;

typedef struct {
  LLVMBasicBlockRef body;  /* first block of the loop body */
  LLVMValueRef phi;        /* the induction variable */
  LLVMValueRef end;        /* exclusive bound */
  LLVMValueRef step;       /* increment */
} CgLoop;

typedef struct {
  LLVMContextRef ctx;          /* owns types and constants */
  LLVMModuleRef mod;           /* module being filled */
  LLVMBuilderRef b;            /* instruction builder */
  LLVMTypeRef f32, i32, i64, ptr, vec;  /* common types; vec = one vector register of floats */
  const Target *t;             /* what the code is for: put on every function, sizes vectors and tiles */
  const Schedule *sched;       /* the schedule compiled */
  bool step_entries;           /* per-step entries for the thread pool are built too */
  const StepSchedule *step;    /* the step being built */
  const MemPlan *mp;           /* sched->mp */
  const FusePlan *fp;          /* mp->fp */
  LLVMValueRef fn;             /* function being built */
  LLVMValueRef *bufptr;        /* per plan buffer: pointer argument of fn, or NULL */
  LLVMValueRef scratch;        /* scratch pointer argument of fn, or NULL */
  LLVMValueRef lo, hi;         /* the step's unit bounds (i64 arguments of fn) */
  int group;                   /* group being built, or -1 */
  LLVMValueRef *memo;          /* per node id: member value at the current point */
  const IrNode *mm;            /* FG_MATMUL epilogue: the product ... */
  LLVMValueRef mm_value;       /* ... and its value at the current point */
} Cg;

LLVMValueRef cg_i64(Cg *cg, int64_t v);
/* An internal void function with the target's attributes; pointer
 * parameters are noalias (callers pass buffers that do not overlap). */
LLVMValueRef cg_function(Cg *cg, const char *name, LLVMTypeRef *params, unsigned n);
LLVMValueRef cg_f32(Cg *cg, double v);
/* A do-while loop from start by step while < end (caller ensures one trip). */
LLVMValueRef cg_loop_begin(Cg *cg, CgLoop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step);
void cg_loop_end(Cg *cg, CgLoop *l);
/* cg_loop_end, and LLVM's loop vectorizer leaves the loop scalar. */
void cg_loop_end_scalar(Cg *cg, CgLoop *l);
LLVMValueRef cg_call_intrinsic(Cg *cg, const char *name, LLVMTypeRef *over, int nover, LLVMValueRef *args,
                               int nargs);
/* vw lanes of i1, those with lo <= l < hi set (a compile-time constant). */
LLVMValueRef cg_lane_mask(Cg *cg, int vw, int lo, int hi);
/* A vector of floats at ptr: lanes outside mask are 0 and their memory never touched. */
LLVMValueRef cg_masked_load(Cg *cg, LLVMValueRef ptr, LLVMValueRef mask);
LLVMValueRef cg_offset(Cg *cg, const CgPoint *p, const int64_t *st);
LLVMValueRef cg_load(Cg *cg, LLVMValueRef base, LLVMValueRef off);
void cg_store(Cg *cg, LLVMValueRef base, LLVMValueRef off, LLVMValueRef v);
/* Evaluates the group's root at point p and stores every stored member. */
void cg_eval_store(Cg *cg, const CgPoint *p);
/* Body of an FG_MATMUL kernel (gemm.c). */
void gemm_emit(Cg *cg, const FuseGroup *G);

/* for (i = start; i < end; i++) with bounds that may be empty at run time. */
typedef struct {
  CgLoop loop;                 /* the loop, when entered */
  LLVMBasicBlockRef after;     /* where the skip and the exit meet */
} CgRange;
LLVMValueRef cg_range_begin(Cg *cg, CgRange *r, LLVMValueRef start, LLVMValueRef end);
void cg_range_end(Cg *cg, CgRange *r);
LLVMValueRef cg_smin(Cg *cg, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_smax(Cg *cg, LLVMValueRef a, LLVMValueRef b);
/* This call's iterations [*s, *e) of a split loop of `total`: its units
 * [lo, hi) (the kernel's last two arguments) times the step's grain. */
void cg_unit_range(Cg *cg, int64_t total, LLVMValueRef *s, LLVMValueRef *e);
/* Space axis d's coordinate at point p of the current group (loops merge
 * neighbouring axes: the merged index is decoded). */
LLVMValueRef cg_coord(Cg *cg, const CgPoint *p, int d);
/* The value of source s at its own coordinates co[] (through its view, or
 * folded when constant). */
LLVMValueRef cg_load_at(Cg *cg, const IrNode *s, LLVMValueRef const *co);

/* window.c: a pool's value at point p (a member of an elementwise group),
 * and the body of an FG_CONV kernel. */
LLVMValueRef window_member(Cg *cg, const IrNode *u, const CgPoint *p);
void conv_emit(Cg *cg, const FuseGroup *G);
/* The body of an elementwise kernel whose only member is a max pool or
 * unpool of disjoint windows without padding; false (nothing emitted)
 * otherwise. */
bool window_alone(Cg *cg, const FuseGroup *G);

#endif
