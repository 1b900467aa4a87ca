/* gemm: the generated matrix-product kernel with its fused epilogue.
 *
 * C[M,N] = A[M,K] B[K,N] where A and B are any strided views (transposed
 * operands and ta/tb are just strides).  All sizes are compile-time
 * constants; the schedule (schedule.h) fixes the tile, the loop order and
 * the split.  Pieces:
 *   - packing B: a panel of NR = vectors * vw columns becomes K rows of NR
 *     contiguous floats, zero-padded past N, so every load of B in the
 *     micro-kernel is one aligned vector; where few row blocks would read
 *     the copy and B's rows hold whole panels, B is read in place instead
 *     (unaligned vector loads, one row of B apart);
 *   - packing A (rows outside, when the schedule says): a block of MR rows
 *     becomes K columns of MR contiguous floats, so the broadcasts of one k
 *     step read one cache line instead of MR strided ones, or instead of
 *     lines 4 KB apart that all fall in one L1 set (a transposed A of 1024
 *     rows); a transposed A whose k steps lie elsewhere is read in place;
 *   - the micro-kernel: MR x NR accumulators in vector registers, per k one
 *     load per vector of packed B, MR broadcasts of A, llvm.fmuladd per
 *     (row, vector) (an FMA where the target has one).  The full K stays in
 *     registers, so the epilogue sees finished values.  It is a function of
 *     its own so that nothing else competes for its registers;
 *   - the epilogue: the tile goes to a stack buffer and the group's
 *     elementwise members (bias add, activation, an optimizer update) run
 *     over it, storing every stored member.
 * Loop orders: panels outside (B packed one panel at a time, all row blocks
 * inside; units = panels) or row blocks outside (the panels inside, so an
 * epilogue that reads and writes whole output-shaped arrays walks their rows
 * in memory order; units = row blocks, B packed whole by each thread, or
 * with column slices units = panels, each thread packing its own and running
 * every row block over them).  A unit may be the grain's worth of them all
 * (a product run whole).  Edges: the
 * last panel is zero-padded and only its real columns are stored; the last
 * row block has fewer rows (a separate micro-kernel with the exact count).
 */
#include "codegen.h"

#include <stdlib.h>

typedef struct {
  const IrNode *mm;        /* the product */
  const GemmSchedule *s;   /* sizes, tile, order */
  int64_t am, ak;          /* A[i,k] at am*i + ak*k */
  int64_t bk, bn;          /* B[k,j] at bk*k + bn*j */
  LLVMValueRef A, B;       /* operand buffers */
  LLVMValueRef packed_b;   /* scratch: packed B (one panel, or all of them) */
  int64_t panel_k;         /* floats from one k step of a panel to the next: nr packed, bk in place */
  LLVMValueRef packed_a;   /* scratch after packed B: one packed row block of A, or NULL */
  LLVMValueRef tile;       /* where micro-kernels leave results: mr x nr floats on the stack, or
                              (rows outside) a row block of mr x padded-N floats in scratch */
  int64_t tile_stride;     /* floats from one row of tile to the next */
  int mr, nv, vw, nr;      /* tile rows, vectors per row, floats per vector, columns (nv * vw) */
  int64_t panels;          /* ceil(N / nr) */
  LLVMValueRef mk[2];      /* micro-kernel functions: full row blocks, the short one */
  LLVMValueRef lo, hi;     /* this call's rows (direct), row blocks or panels: its units
                              times the grain (a product run whole is one unit of them all) */
} Gemm;

static LLVMValueRef add(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef mul(Cg *cg, LLVMValueRef a, int64_t s) { return LLVMBuildMul(cg->b, a, cg_i64(cg, s), ""); }
static LLVMValueRef gep(Cg *cg, LLVMValueRef base, LLVMValueRef off) {
  return LLVMBuildGEP2(cg->b, cg->f32, base, &off, 1, "");
}

/* ---- control flow with possibly empty ranges ---- */

typedef struct {
  LLVMBasicBlockRef after;  /* where the skip and the exit meet */
} Guard;

/* if (cond) { ... guard_end */
static void guard_begin(Cg *cg, Guard *gd, LLVMValueRef cond) {
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "then");
  gd->after = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "after");
  LLVMBuildCondBr(cg->b, cond, then, gd->after);
  LLVMPositionBuilderAtEnd(cg->b, then);
}

static void guard_end(Cg *cg, Guard *gd) {
  LLVMBuildBr(cg->b, gd->after);
  LLVMPositionBuilderAtEnd(cg->b, gd->after);
}

/* ---- packing ---- */

/* dst[k*nr + c] = B[k, j0 + c] for c in [c0, c1), k in [k0, k1), one float
 * at a time, along B's contiguous axis inside. */
static void pack_b_floats(Cg *cg, const Gemm *g, LLVMValueRef dst, LLVMValueRef j0, int c0, int c1, int64_t k0,
                          int64_t k1) {
  if (c0 >= c1 || k0 >= k1) return;
  CgLoop lk, lc;
  LLVMValueRef base = mul(cg, j0, g->bn);
  if (g->bk == 1 && g->bn != 1) {
    LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, c0), cg_i64(cg, c1), cg_i64(cg, 1));
    LLVMValueRef src = add(cg, base, mul(cg, c, g->bn));
    LLVMValueRef k = cg_loop_begin(cg, &lk, cg_i64(cg, k0), cg_i64(cg, k1), cg_i64(cg, 1));
    cg_store(cg, dst, add(cg, mul(cg, k, g->nr), c), cg_load(cg, g->B, add(cg, src, k)));
    cg_loop_end(cg, &lk);
    cg_loop_end(cg, &lc);
  } else {
    LLVMValueRef k = cg_loop_begin(cg, &lk, cg_i64(cg, k0), cg_i64(cg, k1), cg_i64(cg, 1));
    LLVMValueRef row = mul(cg, k, g->nr), src = add(cg, mul(cg, k, g->bk), base);
    LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, c0), cg_i64(cg, c1), cg_i64(cg, 1));
    cg_store(cg, dst, add(cg, row, c), cg_load(cg, g->B, add(cg, src, mul(cg, c, g->bn))));
    cg_loop_end(cg, &lc);
    cg_loop_end(cg, &lk);
  }
}

enum { TRANSPOSE_MAX = 16 };   /* the widest vector (512 bits) the block transpose takes */

/* The vw x vw transpose of v in registers: log2(vw) rounds of interleaving
 * vector i with vector i + vw/2 (lane by lane, low halves to 2i, high
 * halves to 2i+1) leave in v[i] lane j what v[j] held in lane i. */
static void transpose(Cg *cg, const Gemm *g, LLVMValueRef *v) {
  int n = g->vw, h = n / 2;
  LLVMValueRef lo[TRANSPOSE_MAX], hi[TRANSPOSE_MAX], next[TRANSPOSE_MAX];
  for (int i = 0; i < n; i++) {
    lo[i] = LLVMConstInt(cg->i32, (unsigned)(i % 2 ? n + i / 2 : i / 2), 0);
    hi[i] = LLVMConstInt(cg->i32, (unsigned)(i % 2 ? n + h + i / 2 : h + i / 2), 0);
  }
  LLVMValueRef mlo = LLVMConstVector(lo, (unsigned)n), mhi = LLVMConstVector(hi, (unsigned)n);
  for (int round = 1; round < n; round *= 2) {
    for (int i = 0; i < h; i++) {
      next[2 * i] = LLVMBuildShuffleVector(cg->b, v[i], v[i + h], mlo, "");
      next[2 * i + 1] = LLVMBuildShuffleVector(cg->b, v[i], v[i + h], mhi, "");
    }
    for (int i = 0; i < n; i++) v[i] = next[i];
  }
}

/* One block: columns c.. (vw of them, B's rows src.. bn apart) at k steps
 * k.. (kn <= vw of them: a shorter block loads only kn lanes of each row). */
static void transpose_block(Cg *cg, const Gemm *g, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef c,
                            LLVMValueRef k, int kn) {
  int vw = g->vw;
  LLVMValueRef v[TRANSPOSE_MAX];
  for (int i = 0; i < vw; i++) {
    LLVMValueRef at = gep(cg, g->B, add(cg, src, add(cg, k, cg_i64(cg, i * g->bn))));
    if (kn < vw) {
      v[i] = cg_masked_load(cg, at, cg_lane_mask(cg, vw, 0, kn));
    } else {
      v[i] = LLVMBuildLoad2(cg->b, cg->vec, at, "");
      LLVMSetAlignment(v[i], 4);
    }
  }
  transpose(cg, g, v);
  for (int i = 0; i < kn; i++) {
    LLVMValueRef at = add(cg, mul(cg, add(cg, k, cg_i64(cg, i)), g->nr), c);
    LLVMSetAlignment(LLVMBuildStore(cg->b, v[i], gep(cg, dst, at)), (unsigned)(4 * vw));
  }
}

/* A transposed B (k contiguous) in vw x vw blocks: vw vector loads down
 * vw of its rows, a transpose in registers, vw aligned vector stores into
 * the panel; the last k steps (K not a multiple of vw) a shorter block of
 * masked loads, storing only its k steps; the columns a block does not
 * fill, one float at a time.  (One float at a time everywhere costs a
 * strided store per float: at batch 64 that made W3's data-gradient
 * product 44% slower per sample, and a product of K = 10 lost to OpenBLAS.) */
static void pack_b_transposed(Cg *cg, const Gemm *g, LLVMValueRef dst, LLVMValueRef j0, int ncols) {
  int vw = g->vw, cols = ncols / vw * vw;
  int64_t K = g->s->K, kmain = K / vw * vw;
  if (cols > 0) {
    CgLoop lc, lk;
    LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, 0), cg_i64(cg, cols), cg_i64(cg, vw));
    LLVMValueRef src = mul(cg, add(cg, j0, c), g->bn);
    if (kmain > 0) {
      LLVMValueRef k = cg_loop_begin(cg, &lk, cg_i64(cg, 0), cg_i64(cg, kmain), cg_i64(cg, vw));
      transpose_block(cg, g, dst, src, c, k, vw);
      cg_loop_end(cg, &lk);
    }
    if (K > kmain) transpose_block(cg, g, dst, src, c, cg_i64(cg, kmain), (int)(K - kmain));
    cg_loop_end(cg, &lc);
  }
  pack_b_floats(cg, g, dst, j0, cols, ncols, 0, K);
}

/* dst[k*nr + c] = B[k, j0 + c] for c < ncols, 0 up to nr.  The loop along
 * B's contiguous axis is the inner one: a transposed B (k contiguous) is
 * read down its rows and written into the panel, which stays in cache,
 * rather than gathered from memory. */
static void pack_b(Cg *cg, const Gemm *g, LLVMValueRef dst, LLVMValueRef j0, int ncols) {
  bool pow2 = g->vw > 1 && g->vw <= TRANSPOSE_MAX && (g->vw & (g->vw - 1)) == 0;
  if (g->bk == 1 && g->bn != 1 && pow2) pack_b_transposed(cg, g, dst, j0, ncols);
  else pack_b_floats(cg, g, dst, j0, 0, ncols, 0, g->s->K);
  if (ncols < g->nr) {
    CgLoop lk, lc;
    LLVMValueRef k = cg_loop_begin(cg, &lk, cg_i64(cg, 0), cg_i64(cg, g->s->K), cg_i64(cg, 1));
    LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, ncols), cg_i64(cg, g->nr), cg_i64(cg, 1));
    cg_store(cg, dst, add(cg, mul(cg, k, g->nr), c), cg_f32(cg, 0));
    cg_loop_end(cg, &lc);
    cg_loop_end(cg, &lk);
  }
}

/* Panel p of B: packed, K * nr floats at p * K * nr (or the one panel), or
 * in place, columns p * nr.. of B. */
static LLVMValueRef panel_of(Cg *cg, const Gemm *g, LLVMValueRef p) {
  if (g->s->b_in_place) return gep(cg, g->B, mul(cg, p, g->nr));
  return g->s->rows_outer ? gep(cg, g->packed_b, mul(cg, p, g->s->K * g->nr)) : g->packed_b;
}

/* Panels [lo, hi) of B, once (rows outside): all of them, or a thread's
 * column slice. */
static void pack_b_panels(Cg *cg, const Gemm *g, LLVMValueRef lo, LLVMValueRef hi) {
  int64_t full = g->s->N / g->nr;
  int tail = (int)(g->s->N % g->nr);
  CgRange r;
  LLVMValueRef p = cg_range_begin(cg, &r, lo, cg_smin(cg, hi, cg_i64(cg, full)));
  pack_b(cg, g, panel_of(cg, g, p), mul(cg, p, g->nr), g->nr);
  cg_range_end(cg, &r);
  if (tail > 0) {
    Guard gd;
    guard_begin(cg, &gd, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, cg_i64(cg, full), ""));
    pack_b(cg, g, panel_of(cg, g, cg_i64(cg, full)), cg_i64(cg, full * g->nr), tail);
    guard_end(cg, &gd);
  }
}

/* packed_a[k*mr + r] = A[i0 + r, k] for r < rows. */
static void pack_a(Cg *cg, const Gemm *g, LLVMValueRef i0, int rows) {
  CgLoop lk;
  LLVMValueRef k = cg_loop_begin(cg, &lk, cg_i64(cg, 0), cg_i64(cg, g->s->K), cg_i64(cg, 1));
  LLVMValueRef src = add(cg, mul(cg, i0, g->am), mul(cg, k, g->ak)), dst = mul(cg, k, g->mr);
  for (int r = 0; r < rows; r++)
    cg_store(cg, g->packed_a, add(cg, dst, cg_i64(cg, r)), cg_load(cg, g->A, add(cg, src, cg_i64(cg, r * g->am))));
  cg_loop_end(cg, &lk);
}

/* ---- the micro-kernel and the epilogue ---- */

static LLVMValueRef splat(Cg *cg, const Gemm *g, LLVMValueRef x) {
  LLVMValueRef v = LLVMBuildInsertElement(cg->b, LLVMGetPoison(cg->vec), x, cg_i64(cg, 0), "");
  return LLVMBuildShuffleVector(cg->b, v, LLVMGetPoison(cg->vec), LLVMConstNull(LLVMVectorType(cg->i32, (unsigned)g->vw)),
                                "");
}

/* A[i0 + r, k]: from the packed block, or straight from A. */
static LLVMValueRef a_elem(Cg *cg, const Gemm *g, LLVMValueRef i0, LLVMValueRef k, int r) {
  if (g->packed_a) return cg_load(cg, g->packed_a, add(cg, mul(cg, k, g->mr), cg_i64(cg, r)));
  return cg_load(cg, g->A, add(cg, mul(cg, add(cg, i0, cg_i64(cg, r)), g->am), mul(cg, k, g->ak)));
}

/* The k loop: rows x nr of C for rows i0.. from a packed panel, left in
 * tile.  A and packed_a are g's or the micro-kernel function's parameters. */
static void k_loop(Cg *cg, const Gemm *g, LLVMValueRef i0, int rows, LLVMValueRef panel, LLVMValueRef tile) {
  LLVMValueRef acc[TILE_MAX_ROWS][TILE_VECTORS], phi[TILE_MAX_ROWS][TILE_VECTORS];
  unsigned align = (unsigned)(4 * g->vw);
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "kloop");
  LLVMBuildBr(cg->b, body);
  LLVMPositionBuilderAtEnd(cg->b, body);
  LLVMValueRef k = LLVMBuildPhi(cg->b, cg->i64, "k");
  LLVMValueRef zero = LLVMConstNull(cg->vec), start = cg_i64(cg, 0);
  LLVMAddIncoming(k, &start, &pre, 1);
  for (int r = 0; r < rows; r++)
    for (int v = 0; v < g->nv; v++) {
      phi[r][v] = LLVMBuildPhi(cg->b, cg->vec, "acc");
      LLVMAddIncoming(phi[r][v], &zero, &pre, 1);
    }
  LLVMValueRef bv[TILE_VECTORS];
  for (int v = 0; v < g->nv; v++) {
    bv[v] = LLVMBuildLoad2(cg->b, cg->vec, gep(cg, panel, add(cg, mul(cg, k, g->panel_k), cg_i64(cg, v * g->vw))), "");
    LLVMSetAlignment(bv[v], g->s->b_in_place ? 4 : align);
  }
  for (int r = 0; r < rows; r++) {
    LLVMValueRef a = splat(cg, g, a_elem(cg, g, i0, k, r));
    for (int v = 0; v < g->nv; v++) {
      LLVMValueRef args[3] = {a, bv[v], phi[r][v]};
      acc[r][v] = cg_call_intrinsic(cg, "llvm.fmuladd", &cg->vec, 1, args, 3);
    }
  }
  LLVMValueRef next = LLVMBuildAdd(cg->b, k, cg_i64(cg, 1), "");
  LLVMSetNUW(next, 1);
  LLVMValueRef more = LLVMBuildICmp(cg->b, LLVMIntSLT, next, cg_i64(cg, g->s->K), "");
  LLVMBasicBlockRef end = LLVMGetInsertBlock(cg->b);
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "kdone");
  LLVMBuildCondBr(cg->b, more, body, done);
  LLVMAddIncoming(k, &next, &end, 1);
  for (int r = 0; r < rows; r++)
    for (int v = 0; v < g->nv; v++) LLVMAddIncoming(phi[r][v], &acc[r][v], &end, 1);
  LLVMPositionBuilderAtEnd(cg->b, done);
  for (int r = 0; r < rows; r++)
    for (int v = 0; v < g->nv; v++)
      LLVMSetAlignment(LLVMBuildStore(cg->b, acc[r][v], gep(cg, tile, cg_i64(cg, r * g->tile_stride + v * g->vw))),
                       align);
}

/* The micro-kernel for `rows` rows as a function of its own,
 *   void mk(A, packed_a, panel, tile, i0),
 * never inlined: the epilogue's constants, which LLVM hoists out of the
 * loops around it, then cannot take registers from the accumulators. */
static LLVMValueRef micro_kernel_fn(Cg *cg, Gemm *g, int rows) {
  LLVMValueRef *slot = &g->mk[rows == g->mr ? 0 : 1];
  if (*slot) return *slot;
  LLVMBasicBlockRef saved_block = LLVMGetInsertBlock(cg->b);
  LLVMValueRef saved_fn = cg->fn, saved_a = g->A, saved_pa = g->packed_a;
  LLVMTypeRef params[5] = {cg->ptr, cg->ptr, cg->ptr, cg->ptr, cg->i64};
  char name[96];
  snprintf(name, sizeof name, "%s.mk%d", LLVMGetValueName(saved_fn), rows);
  LLVMValueRef fn = *slot = cg_function(cg, name, params, 5);
  unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, noinline, 0));
  cg->fn = fn;
  LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
  g->A = LLVMGetParam(fn, 0);
  g->packed_a = saved_pa ? LLVMGetParam(fn, 1) : NULL;
  k_loop(cg, g, LLVMGetParam(fn, 4), rows, LLVMGetParam(fn, 2), LLVMGetParam(fn, 3));
  LLVMBuildRetVoid(cg->b);
  g->A = saved_a;
  g->packed_a = saved_pa;
  cg->fn = saved_fn;
  LLVMPositionBuilderAtEnd(cg->b, saved_block);
  return fn;
}

/* The micro-kernel's result goes to tile (at the panel's columns when the
 * tile is a whole row block). */
static void micro_kernel(Cg *cg, Gemm *g, LLVMValueRef i0, int rows, LLVMValueRef panel, LLVMValueRef tile) {
  LLVMValueRef fn = micro_kernel_fn(cg, g, rows);
  LLVMValueRef args[5] = {g->A, g->packed_a ? g->packed_a : LLVMConstPointerNull(cg->ptr), panel, tile, i0};
  LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(fn), fn, args, 5, "");
}

/* The point of C that element (i, j) of the computed product is. */
static CgPoint c_point(Cg *cg, const Gemm *g, LLVMValueRef i, LLVMValueRef j) {
  (void)cg;
  CgPoint p = {2, {i, j}, {0, 1}};
  if (g->s->swap) p.idx[0] = j, p.idx[1] = i;
  return p;
}

/* Whether the product is computed as C^T with C's points apart along a
 * row of C^T: C has more than one column (after the swap, s->M of them). */
static bool c_transposed_strided(const Gemm *g) { return g->s->swap && g->s->M > 1; }

/* The epilogue of such a product, in C's memory order: for each column c
 * of the tile, C's row j0 + c at columns i0.. (rows of them, one after
 * another, unrolled), in a scalar loop.  LLVM's loop vectorizer would run
 * along the tile's rows instead, with C's points (and an update's w, m and
 * v) a row of C apart (s->M floats: 10 for a logits layer): gathers and
 * scatters, which cost more than scalar code.  W1's 128x10 weight gradient
 * (C^T [10,128], K 64): 132-134 -> 154-156 GFLOP/s bare, 5.0-5.7 -> 4.3-4.5
 * us with Adam; W3's 1024x10 with Adam, one thread: 72-73 -> 50-58 us (AMD
 * EPYC Zen 5, AVX-512: the bench's gemm and `nnc train --profile`).  Where
 * C has one column its points are contiguous, and vectors pay. */
static void epilogue_transposed(Cg *cg, const Gemm *g, LLVMValueRef tile, LLVMValueRef i0, LLVMValueRef j0, int rows,
                                LLVMValueRef ncols) {
  CgLoop lc;
  LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, 0), ncols, cg_i64(cg, 1));
  cg->mm = g->mm;
  for (int r = 0; r < rows; r++) {
    CgPoint p = c_point(cg, g, add(cg, i0, cg_i64(cg, r)), add(cg, j0, c));
    cg->mm_value = cg_load(cg, tile, add(cg, cg_i64(cg, r * g->tile_stride), c));
    cg_eval_store(cg, &p);
  }
  cg_loop_end_scalar(cg, &lc);
}

/* The group's members over C's rows i0.. (rows of them) and columns j0..
 * (ncols), the products read from tile (its element [r, c] is C's [i0 + r,
 * j0 + c]). */
static void epilogue(Cg *cg, const Gemm *g, LLVMValueRef tile, LLVMValueRef i0, LLVMValueRef j0, int rows,
                     LLVMValueRef ncols) {
  if (c_transposed_strided(g)) {
    epilogue_transposed(cg, g, tile, i0, j0, rows, ncols);
    return;
  }
  CgLoop lr, lc;
  LLVMValueRef r = cg_loop_begin(cg, &lr, cg_i64(cg, 0), cg_i64(cg, rows), cg_i64(cg, 1));
  LLVMValueRef c = cg_loop_begin(cg, &lc, cg_i64(cg, 0), ncols, cg_i64(cg, 1));
  CgPoint p = c_point(cg, g, add(cg, i0, r), add(cg, j0, c));
  cg->mm = g->mm;
  cg->mm_value = cg_load(cg, tile, add(cg, mul(cg, r, g->tile_stride), c));
  cg_eval_store(cg, &p);
  cg_loop_end(cg, &lc);
  cg_loop_end(cg, &lr);
}

static void tile(Cg *cg, Gemm *g, LLVMValueRef i0, LLVMValueRef j0, int rows, int ncols, LLVMValueRef panel) {
  micro_kernel(cg, g, i0, rows, panel, g->tile);
  epilogue(cg, g, g->tile, i0, j0, rows, cg_i64(cg, ncols));
}

/* ---- loop orders ---- */

/* Rows i0.. of one row block (rows of them) against panels [lo, hi), into
 * the row block's buffer; then the epilogue along the rows' columns of those
 * panels, so an update of output-shaped arrays (an optimizer's w, m, v)
 * streams through each row once instead of in tile-sized pieces. */
static void row_block(Cg *cg, Gemm *g, LLVMValueRef i0, int rows, LLVMValueRef lo, LLVMValueRef hi) {
  if (g->packed_a) pack_a(cg, g, i0, rows);
  CgLoop lp;
  LLVMValueRef p = cg_loop_begin(cg, &lp, lo, hi, cg_i64(cg, 1));
  micro_kernel(cg, g, i0, rows, panel_of(cg, g, p), gep(cg, g->tile, mul(cg, p, g->nr)));
  cg_loop_end(cg, &lp);
  LLVMValueRef j0 = mul(cg, lo, g->nr), j1 = cg_smin(cg, mul(cg, hi, g->nr), cg_i64(cg, g->s->N));
  epilogue(cg, g, gep(cg, g->tile, j0), i0, j0, rows, LLVMBuildSub(cg->b, j1, j0, ""));
}

/* Row blocks [first, last) against panels [lo, hi): full blocks, then the
 * short one if it is among them. */
static void row_blocks(Cg *cg, Gemm *g, LLVMValueRef first, LLVMValueRef last, LLVMValueRef lo, LLVMValueRef hi) {
  int64_t full = g->s->M / g->mr;
  int tail = (int)(g->s->M % g->mr);
  CgRange r;
  LLVMValueRef b = cg_range_begin(cg, &r, first, cg_smin(cg, last, cg_i64(cg, full)));
  row_block(cg, g, mul(cg, b, g->mr), g->mr, lo, hi);
  cg_range_end(cg, &r);
  if (tail > 0) {
    Guard gd;
    guard_begin(cg, &gd, LLVMBuildICmp(cg->b, LLVMIntSGT, last, cg_i64(cg, full), ""));
    row_block(cg, g, cg_i64(cg, full * g->mr), tail, lo, hi);
    guard_end(cg, &gd);
  }
}

/* Units are row blocks, each against every panel; or, with column slices,
 * units are panels, and every row block runs against the thread's. */
static void rows_outside(Cg *cg, Gemm *g) {
  LLVMValueRef blocks = cg_i64(cg, (g->s->M + g->mr - 1) / g->mr), panels = cg_i64(cg, g->panels);
  LLVMValueRef lo = cg_i64(cg, 0), hi = panels;
  if (g->s->column_slices) lo = g->lo, hi = cg_smin(cg, g->hi, panels);
  if (!g->s->b_in_place) pack_b_panels(cg, g, lo, hi);
  if (g->s->column_slices)
    row_blocks(cg, g, cg_i64(cg, 0), blocks, lo, hi);
  else
    row_blocks(cg, g, g->lo, g->hi, lo, hi);
}

/* One panel (ncols real columns at j0), packed or read in place, against
 * every row block. */
static void panel(Cg *cg, Gemm *g, LLVMValueRef j0, int ncols) {
  LLVMValueRef pb = g->packed_b;
  if (g->s->b_in_place) pb = gep(cg, g->B, j0);
  else pack_b(cg, g, g->packed_b, j0, ncols);
  int64_t full = g->s->M / g->mr;
  int tail = (int)(g->s->M % g->mr);
  if (full > 0) {
    CgLoop li;
    LLVMValueRef i0 = cg_loop_begin(cg, &li, cg_i64(cg, 0), cg_i64(cg, full * g->mr), cg_i64(cg, g->mr));
    tile(cg, g, i0, j0, g->mr, ncols, pb);
    cg_loop_end(cg, &li);
  }
  if (tail > 0) tile(cg, g, cg_i64(cg, full * g->mr), j0, tail, ncols, pb);
}

/* Units are panels: full panels [lo, min(hi, full)), then the narrow one. */
static void panels_outside(Cg *cg, Gemm *g) {
  int64_t full = g->s->N / g->nr;
  int tail = (int)(g->s->N % g->nr);
  CgRange r;
  Guard gd;
  LLVMValueRef p = cg_range_begin(cg, &r, g->lo, cg_smin(cg, g->hi, cg_i64(cg, full)));
  panel(cg, g, mul(cg, p, g->nr), g->nr);
  cg_range_end(cg, &r);
  if (tail > 0) {
    guard_begin(cg, &gd, LLVMBuildICmp(cg->b, LLVMIntSGT, g->hi, cg_i64(cg, full), ""));
    panel(cg, g, cg_i64(cg, full * g->nr), tail);
    guard_end(cg, &gd);
  }
}

/* A tiny product, a row of C at a time: row[j] += A[i,k] * B[k,j] over k
 * (the j loop vectorizes), then the epilogue along the row.  Each element
 * takes the same multiply-adds in the same order as in the micro-kernel. */
static void direct(Cg *cg, Gemm *g) {
  LLVMValueRef row = LLVMBuildArrayAlloca(cg->b, cg->f32, cg_i64(cg, g->s->N), "row");
  LLVMSetAlignment(row, (unsigned)(4 * g->vw));
  CgLoop li, lj, lk;
  LLVMValueRef i = cg_loop_begin(cg, &li, g->lo, g->hi, cg_i64(cg, 1));
  LLVMValueRef j = cg_loop_begin(cg, &lj, cg_i64(cg, 0), cg_i64(cg, g->s->N), cg_i64(cg, 1));
  cg_store(cg, row, j, cg_f32(cg, 0));
  cg_loop_end(cg, &lj);
  LLVMValueRef k = cg_loop_begin(cg, &lk, cg_i64(cg, 0), cg_i64(cg, g->s->K), cg_i64(cg, 1));
  LLVMValueRef a = cg_load(cg, g->A, add(cg, mul(cg, i, g->am), mul(cg, k, g->ak)));
  j = cg_loop_begin(cg, &lj, cg_i64(cg, 0), cg_i64(cg, g->s->N), cg_i64(cg, 1));
  LLVMValueRef args[3] = {a, cg_load(cg, g->B, add(cg, mul(cg, k, g->bk), mul(cg, j, g->bn))), cg_load(cg, row, j)};
  cg_store(cg, row, j, cg_call_intrinsic(cg, "llvm.fmuladd", &cg->f32, 1, args, 3));
  cg_loop_end(cg, &lj);
  cg_loop_end(cg, &lk);
  j = cg_loop_begin(cg, &lj, cg_i64(cg, 0), cg_i64(cg, g->s->N), cg_i64(cg, 1));
  CgPoint p = c_point(cg, g, i, j);
  cg->mm = g->mm;
  cg->mm_value = cg_load(cg, row, j);
  cg_eval_store(cg, &p);
  if (c_transposed_strided(g))   /* see epilogue_transposed */
    cg_loop_end_scalar(cg, &lj);
  else
    cg_loop_end(cg, &lj);
  cg_loop_end(cg, &li);
}

void gemm_emit(Cg *cg, const FuseGroup *G) {
  const IrNode *mm = G->mm, *a = mm->src[0], *b = mm->src[1];
  const FuseNode *fa = &cg->fp->node[a->id], *fb = &cg->fp->node[b->id];
  const GemmSchedule *s = &cg->step->gemm;
  Gemm g = {.mm = mm, .s = s, .mr = s->rows, .nv = s->vectors, .vw = s->vw};   /* sizes: s->M, N, K */
  g.nr = g.nv * g.vw;
  g.panels = (s->N + g.nr - 1) / g.nr;
  cg_unit_range(cg, cg->step->units * cg->step->grain, &g.lo, &g.hi);
  g.am = mm->ta ? fa->stride[1] : fa->stride[0];
  g.ak = mm->ta ? fa->stride[0] : fa->stride[1];
  g.bk = mm->tb ? fb->stride[1] : fb->stride[0];
  g.bn = mm->tb ? fb->stride[0] : fb->stride[1];
  g.A = cg->bufptr[plan_buf_of_view(cg->mp, a)];
  g.B = cg->bufptr[plan_buf_of_view(cg->mp, b)];
  if (s->swap) {   /* C^T = B^T A^T: B^T[i,k] = B[k,i], A^T[k,j] = A[j,k] */
    int64_t am = g.am, ak = g.ak;
    LLVMValueRef A = g.A;
    g.am = g.bn, g.ak = g.bk, g.A = g.B;
    g.bk = ak, g.bn = am, g.B = A;
  }
  if (s->direct) {
    direct(cg, &g);
    cg->mm = NULL;
    return;
  }
  g.packed_b = cg->scratch;
  g.panel_k = s->b_in_place ? g.bk : g.nr;
  int64_t packed_b = s->b_in_place ? 0 : (s->rows_outer ? g.panels : 1) * s->K * g.nr;
  if (s->rows_outer) {   /* scratch: packed B, the row block, packed A */
    g.tile = gep(cg, cg->scratch, cg_i64(cg, packed_b));
    g.tile_stride = g.panels * g.nr;
    if (s->pack_a) g.packed_a = gep(cg, cg->scratch, cg_i64(cg, packed_b + g.mr * g.tile_stride));
  } else {
    g.tile = LLVMBuildArrayAlloca(cg->b, cg->f32, cg_i64(cg, g.mr * g.nr), "tile");
    LLVMSetAlignment(g.tile, (unsigned)(4 * g.vw));
    g.tile_stride = g.nr;
  }
  if (s->rows_outer)
    rows_outside(cg, &g);
  else
    panels_outside(cg, &g);
  cg->mm = NULL;
}
