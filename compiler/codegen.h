/* codegen: the LLVM module of a planned graph (LLVM C API).
 *
 * In: a MemPlan (and through it the FusePlan and the IrGraph), the host CPU's
 * name and features.  Out: an LLVM module with one internal function per
 * step and one external entry
 *     void ENTRY(float **leaves, float *workspace)
 * that runs the steps in order; leaves[i] is the buffer of the plan's leaf i,
 * workspace holds MemPlan.workspace floats, 64-byte aligned.  The module calls
 * nothing of nnc's (only libm: expf, logf, tanhf, ...), so it can be JIT-run
 * or written to an object file.  Every function carries target-cpu and
 * target-features; kernel pointer arguments are noalias (the plan guarantees
 * it).  Elementwise and reduction loops are plain scalar IR in a form LLVM's
 * loop vectorizer takes; matrix products (gemm.c) use explicit vectors.
 *
 * The second half of this header is the code generator's own toolkit, shared
 * by codegen.c and gemm.c.
 */
#ifndef NNC_CODEGEN_H
#define NNC_CODEGEN_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "plan.h"

LLVMModuleRef codegen_module(LLVMContextRef ctx, const MemPlan *mp, const char *entry, const char *cpu,
                             const char *features);
/* Verifies mod, sets its target triple and data layout for (cpu, features)
 * and runs "default<O<opt_level>>" with a target machine for the same CPU
 * (no loop unrolling: see docs/backend.md).  dump_before/dump_after, when
 * non-NULL, get the module's text.  false + message in err on failure. */
/* The same with a given target machine (any triple): the object-file path. */
bool codegen_optimize_with(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, FILE *dump_before,
                           FILE *dump_after, char *err, size_t errlen);
bool codegen_optimize(LLVMModuleRef mod, int opt_level, const char *cpu, const char *features, FILE *dump_before,
                      FILE *dump_after, char *err, size_t errlen);
/* Scratch floats a group's kernel needs (a PlanScratchFn). */
int64_t codegen_scratch(const FusePlan *fp, int group);

/* ---- shared by codegen.c and gemm.c ---- */

enum { CG_VW = 16 };   /* floats per vector register (AVX-512) in generated matrix products */

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
  LLVMTypeRef f32, i32, i64, ptr, vec;  /* common types; vec = <CG_VW x float> */
  const char *cpu, *features;  /* host target, put on every function */
  const MemPlan *mp;           /* the plan compiled */
  const FusePlan *fp;          /* mp->fp */
  LLVMValueRef fn;             /* function being built */
  LLVMValueRef *bufptr;        /* per plan buffer: pointer argument of fn, or NULL */
  LLVMValueRef scratch;        /* scratch pointer argument of fn, or NULL */
  int group;                   /* group being built, or -1 */
  LLVMValueRef *memo;          /* per node id: member value at the current point */
  const IrNode *mm;            /* FG_MATMUL epilogue: the product ... */
  LLVMValueRef mm_value;       /* ... and its value at the current point */
} Cg;

LLVMValueRef cg_i64(Cg *cg, int64_t v);
LLVMValueRef cg_f32(Cg *cg, double v);
/* A do-while loop from start by step while < end (caller ensures one trip). */
LLVMValueRef cg_loop_begin(Cg *cg, CgLoop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step);
void cg_loop_end(Cg *cg, CgLoop *l);
LLVMValueRef cg_call_intrinsic(Cg *cg, const char *name, LLVMTypeRef *over, int nover, LLVMValueRef *args,
                               int nargs);
LLVMValueRef cg_offset(Cg *cg, const CgPoint *p, const int64_t *st);
LLVMValueRef cg_load(Cg *cg, LLVMValueRef base, LLVMValueRef off);
void cg_store(Cg *cg, LLVMValueRef base, LLVMValueRef off, LLVMValueRef v);
/* Evaluates the group's root at point p and stores every stored member. */
void cg_eval_store(Cg *cg, const CgPoint *p);
/* Body of an FG_MATMUL kernel (gemm.c). */
void gemm_emit(Cg *cg, const FuseGroup *G);
int64_t gemm_scratch(const IrNode *mm);

#endif
