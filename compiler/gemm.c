/* gemm: the generated matrix-product kernel with its fused epilogue.
 *
 * C[M,N] = A[M,K] B[K,N] where A and B are any strided views (transposed
 * operands and ta/tb are just strides).  All sizes are compile-time constants.
 * Loop structure, outermost first:
 *   for each panel of GEMM_NR columns of C:
 *     pack B[:, panel] into scratch as K rows of GEMM_NR contiguous floats,
 *       zero-padded past N (one copy, then every load is an aligned vector);
 *     for each tile of GEMM_MR rows:
 *       micro-kernel: GEMM_MR x GEMM_NR accumulators in vector registers,
 *         for k: GEMM_NR/16 vector loads of packed B, GEMM_MR broadcasts of
 *         A[i,k] straight from A, llvm.fma per (row, vector);
 *       epilogue: the tile goes to a stack buffer and the group's
 *         elementwise members (bias add, activation, ...) run over it,
 *         storing every stored member.
 * The full K stays in registers (no partial sums in memory), so the epilogue
 * sees finished values.  Edges: the last panel is packed with zeros and only
 * its real columns are stored; the last row tile has fewer rows (a separate
 * copy of the micro-kernel with the exact row count).  Tile size: 8 rows x 2
 * zmm vectors = 16 accumulators + 2 B vectors + 1 broadcast, within 32 zmm
 * registers, with loads (2 + 8) per 16 FMAs.
 */
#include "codegen.h"

#include <stdlib.h>

enum {
  GEMM_NV = 2,                    /* vectors per tile row */
  GEMM_NR = GEMM_NV * CG_VW,      /* tile columns */
  GEMM_MR = 8,                    /* tile rows */
};

static int64_t depth(const IrNode *mm) { return mm->ta ? mm->src[0]->shape.dim[0] : mm->src[0]->shape.dim[1]; }

int64_t gemm_scratch(const IrNode *mm) { return depth(mm) * GEMM_NR; }

typedef struct {
  const IrNode *mm;        /* the product */
  int64_t M, N, K;         /* sizes */
  int64_t am, ak;          /* A[i,k] at am*i + ak*k */
  int64_t bk, bn;          /* B[k,j] at bk*k + bn*j */
  LLVMValueRef A, B;       /* operand buffers */
  LLVMValueRef tile;       /* GEMM_MR x GEMM_NR floats on the stack */
} Gemm;

static LLVMValueRef add(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef mul(Cg *cg, LLVMValueRef a, int64_t s) { return LLVMBuildMul(cg->b, a, cg_i64(cg, s), ""); }

/* scratch[k*NR + c] = B[k, j0 + c] for c < nr, 0 up to NR. */
static void pack_b(Cg *cg, const Gemm *g, LLVMValueRef j0, int nr) {
  CgLoop lk, lc;
  LLVMValueRef k = cg_loop_begin(cg, &lk, cg_i64(cg, 0), cg_i64(cg, g->K), cg_i64(cg, 1));
  LLVMValueRef row = mul(cg, k, GEMM_NR);
  LLVMValueRef src = add(cg, mul(cg, k, g->bk), mul(cg, j0, g->bn));
  LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, 0), cg_i64(cg, nr), cg_i64(cg, 1));
  cg_store(cg, cg->scratch, add(cg, row, c), cg_load(cg, g->B, add(cg, src, mul(cg, c, g->bn))));
  cg_loop_end(cg, &lc);
  if (nr < GEMM_NR) {
    c = cg_loop_begin(cg, &lc, cg_i64(cg, nr), cg_i64(cg, GEMM_NR), cg_i64(cg, 1));
    cg_store(cg, cg->scratch, add(cg, row, c), cg_f32(cg, 0));
    cg_loop_end(cg, &lc);
  }
  cg_loop_end(cg, &lk);
}

static LLVMValueRef splat(Cg *cg, LLVMValueRef x) {
  LLVMValueRef v = LLVMBuildInsertElement(cg->b, LLVMGetPoison(cg->vec), x, cg_i64(cg, 0), "");
  return LLVMBuildShuffleVector(cg->b, v, LLVMGetPoison(cg->vec),
                                LLVMConstNull(LLVMVectorType(cg->i32, CG_VW)), "");
}

/* The micro-kernel for rows i0..i0+mr and the packed panel; leaves the tile in g->tile. */
static void micro_kernel(Cg *cg, const Gemm *g, LLVMValueRef i0, int mr) {
  LLVMValueRef acc[GEMM_MR][GEMM_NV], phi[GEMM_MR][GEMM_NV];
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "kloop");
  LLVMBuildBr(cg->b, body);
  LLVMPositionBuilderAtEnd(cg->b, body);
  LLVMValueRef k = LLVMBuildPhi(cg->b, cg->i64, "k");
  LLVMValueRef zero = LLVMConstNull(cg->vec), start = cg_i64(cg, 0);
  LLVMAddIncoming(k, &start, &pre, 1);
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < GEMM_NV; v++) {
      phi[r][v] = LLVMBuildPhi(cg->b, cg->vec, "acc");
      LLVMAddIncoming(phi[r][v], &zero, &pre, 1);
    }
  LLVMValueRef bv[GEMM_NV];
  for (int v = 0; v < GEMM_NV; v++) {
    LLVMValueRef off = add(cg, mul(cg, k, GEMM_NR), cg_i64(cg, v * CG_VW));
    LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->f32, cg->scratch, &off, 1, "");
    bv[v] = LLVMBuildLoad2(cg->b, cg->vec, p, "");
    LLVMSetAlignment(bv[v], 64);
  }
  LLVMValueRef kterm = mul(cg, k, g->ak);
  for (int r = 0; r < mr; r++) {
    LLVMValueRef off = add(cg, mul(cg, add(cg, i0, cg_i64(cg, r)), g->am), kterm);
    LLVMValueRef a = splat(cg, cg_load(cg, g->A, off));
    for (int v = 0; v < GEMM_NV; v++) {
      LLVMValueRef args[3] = {a, bv[v], phi[r][v]};
      acc[r][v] = cg_call_intrinsic(cg, "llvm.fma", &cg->vec, 1, args, 3);
    }
  }
  LLVMValueRef next = LLVMBuildAdd(cg->b, k, cg_i64(cg, 1), "");
  LLVMSetNUW(next, 1);
  LLVMValueRef more = LLVMBuildICmp(cg->b, LLVMIntSLT, next, cg_i64(cg, g->K), "");
  LLVMBasicBlockRef end = LLVMGetInsertBlock(cg->b);
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "kdone");
  LLVMBuildCondBr(cg->b, more, body, done);
  LLVMAddIncoming(k, &next, &end, 1);
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < GEMM_NV; v++) LLVMAddIncoming(phi[r][v], &acc[r][v], &end, 1);
  LLVMPositionBuilderAtEnd(cg->b, done);
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < GEMM_NV; v++) {
      LLVMValueRef off = cg_i64(cg, r * GEMM_NR + v * CG_VW);
      LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->f32, g->tile, &off, 1, "");
      LLVMSetAlignment(LLVMBuildStore(cg->b, acc[r][v], p), 64);
    }
}

/* The group's members over tile rows < mr and columns < nr. */
static void epilogue(Cg *cg, const Gemm *g, LLVMValueRef i0, LLVMValueRef j0, int mr, int nr) {
  CgLoop lr, lc;
  LLVMValueRef r = cg_loop_begin(cg, &lr, cg_i64(cg, 0), cg_i64(cg, mr), cg_i64(cg, 1));
  LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, 0), cg_i64(cg, nr), cg_i64(cg, 1));
  CgPoint p = {2, {add(cg, i0, r), add(cg, j0, c)}, {0, 1}};
  cg->mm = g->mm;
  cg->mm_value = cg_load(cg, g->tile, add(cg, mul(cg, r, GEMM_NR), c));
  cg_eval_store(cg, &p);
  cg_loop_end(cg, &lc);
  cg_loop_end(cg, &lr);
}

static void panel(Cg *cg, const Gemm *g, LLVMValueRef j0, int nr) {
  pack_b(cg, g, j0, nr);
  int64_t mfull = g->M / GEMM_MR;
  int mtail = (int)(g->M % GEMM_MR);
  if (mfull > 0) {
    CgLoop li;
    LLVMValueRef i0 = cg_loop_begin(cg, &li, cg_i64(cg, 0), cg_i64(cg, mfull * GEMM_MR), cg_i64(cg, GEMM_MR));
    micro_kernel(cg, g, i0, GEMM_MR);
    epilogue(cg, g, i0, j0, GEMM_MR, nr);
    cg_loop_end(cg, &li);
  }
  if (mtail > 0) {
    LLVMValueRef i0 = cg_i64(cg, mfull * GEMM_MR);
    micro_kernel(cg, g, i0, mtail);
    epilogue(cg, g, i0, j0, mtail, nr);
  }
}

void gemm_emit(Cg *cg, const FuseGroup *G) {
  const IrNode *mm = G->mm, *a = mm->src[0], *b = mm->src[1];
  const FuseNode *fa = &cg->fp->node[a->id], *fb = &cg->fp->node[b->id];
  Gemm g = {mm, mm->shape.dim[0], mm->shape.dim[1], depth(mm), 0, 0, 0, 0, NULL, NULL, NULL};
  g.am = mm->ta ? fa->stride[1] : fa->stride[0];
  g.ak = mm->ta ? fa->stride[0] : fa->stride[1];
  g.bk = mm->tb ? fb->stride[1] : fb->stride[0];
  g.bn = mm->tb ? fb->stride[0] : fb->stride[1];
  g.A = cg->bufptr[plan_buf_of_view(cg->mp, a)];
  g.B = cg->bufptr[plan_buf_of_view(cg->mp, b)];
  g.tile = LLVMBuildArrayAlloca(cg->b, cg->f32, cg_i64(cg, GEMM_MR * GEMM_NR), "tile");
  LLVMSetAlignment(g.tile, 64);
  int64_t nfull = g.N / GEMM_NR;
  int ntail = (int)(g.N % GEMM_NR);
  if (nfull > 0) {
    CgLoop lj;
    LLVMValueRef j0 = cg_loop_begin(cg, &lj, cg_i64(cg, 0), cg_i64(cg, nfull * GEMM_NR), cg_i64(cg, GEMM_NR));
    panel(cg, &g, j0, GEMM_NR);
    cg_loop_end(cg, &lj);
  }
  if (ntail > 0) panel(cg, &g, cg_i64(cg, nfull * GEMM_NR), ntail);
  cg->mm = NULL;
}
