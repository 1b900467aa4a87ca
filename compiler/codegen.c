/* codegen: kernels and the entry function (see codegen.h for the contract).
 *
 * A kernel is a loop nest over its group's space.  Before emitting loops, the
 * space is simplified: size-1 axes vanish, and neighbouring axes merge when
 * every access (loads through views, stores, random-number indices) sees them
 * as one, so a typical elementwise kernel becomes a single flat loop LLVM can
 * vectorize.  Each point evaluates the group's root recursively; members are
 * memoized per point so shared subexpressions are computed once and kept in
 * registers.  Row-wise reduction groups put kept axes outside and reduced
 * axes inside: per row, passes with register accumulators for all the
 * group's reductions (logsumexp: a max pass, then a sum of exp(x - max)),
 * then the row's elementwise results (softmax, cross-entropy, normalization).
 *
 * Numerics: float32 throughout; FMAs only where written (GEMM, convolution,
 * polynomials), never contracted by LLVM, so a value rounds the same whether
 * an operand is computed in the kernel or loaded (docs/backend.md, Numerics);
 * the reduction accumulators may reassociate (so the vectorizer can split
 * sums); nothing else is relaxed.  exp, expm1, tanh, softplus and erfc are inline
 * polynomials (below), so loops using them still vectorize; log/sin/cos/pow
 * go through LLVM intrinsics (libm calls): all within a few ulp.
 *
 * codegen_optimize (at the end) runs the -O pipeline with a target machine
 * made from the same Target; the JIT and the object-file writer share it.
 */
#include "codegen.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Error.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

LLVMValueRef cg_i64(Cg *cg, int64_t v) { return LLVMConstInt(cg->i64, (unsigned long long)v, 1); }
LLVMValueRef cg_f32(Cg *cg, double v) { return LLVMConstReal(cg->f32, v); }

LLVMValueRef cg_loop_begin(Cg *cg, CgLoop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step) {
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
  l->body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "loop");
  LLVMBuildBr(cg->b, l->body);
  LLVMPositionBuilderAtEnd(cg->b, l->body);
  l->phi = LLVMBuildPhi(cg->b, cg->i64, "i");
  LLVMAddIncoming(l->phi, &start, &pre, 1);
  l->end = end;
  l->step = step;
  return l->phi;
}

/* The loop's back edge (its branch returned), the builder left after it. */
static LLVMValueRef loop_close(Cg *cg, CgLoop *l) {
  LLVMValueRef next = LLVMBuildAdd(cg->b, l->phi, l->step, "next");
  LLVMSetNSW(next, 1);
  LLVMSetNUW(next, 1);
  LLVMValueRef more = LLVMBuildICmp(cg->b, LLVMIntSLT, next, l->end, "more");
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(cg->b);
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "done");
  LLVMValueRef back = LLVMBuildCondBr(cg->b, more, l->body, done);
  LLVMAddIncoming(l->phi, &next, &cur, 1);
  LLVMPositionBuilderAtEnd(cg->b, done);
  return back;
}

void cg_loop_end(Cg *cg, CgLoop *l) { loop_close(cg, l); }

void cg_loop_end_scalar(Cg *cg, CgLoop *l) {
  LLVMValueRef back = loop_close(cg, l);
  /* !llvm.loop !{self, !{"llvm.loop.vectorize.width", i32 1}}: a loop ID
   * refers to itself, so it is built on a temporary node replaced after
   * (the replacement also deletes the temporary) */
  static const char width_key[] = "llvm.loop.vectorize.width", loop_kind[] = "llvm.loop";
  LLVMMetadataRef self = LLVMTemporaryMDNode(cg->ctx, NULL, 0);
  LLVMMetadataRef width[2] = {LLVMMDStringInContext2(cg->ctx, width_key, sizeof width_key - 1),
                              LLVMValueAsMetadata(LLVMConstInt(cg->i32, 1, 0))};
  LLVMMetadataRef ops[2] = {self, LLVMMDNodeInContext2(cg->ctx, width, 2)};
  LLVMMetadataRef id = LLVMMDNodeInContext2(cg->ctx, ops, 2);
  LLVMMetadataReplaceAllUsesWith(self, id);
  unsigned kind = LLVMGetMDKindIDInContext(cg->ctx, loop_kind, sizeof loop_kind - 1);
  LLVMSetMetadata(back, kind, LLVMMetadataAsValue(cg->ctx, id));
}

LLVMValueRef cg_call_intrinsic(Cg *cg, const char *name, LLVMTypeRef *over, int nover, LLVMValueRef *args,
                               int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) die("codegen: no intrinsic %s", name);
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(cg->mod, id, over, (size_t)nover);
  LLVMTypeRef ty = LLVMIntrinsicGetType(cg->ctx, id, over, (size_t)nover);
  return LLVMBuildCall2(cg->b, ty, f, args, (unsigned)nargs, "");
}

LLVMValueRef cg_lane_mask(Cg *cg, int vw, int lo, int hi) {
  LLVMTypeRef i1 = LLVMInt1TypeInContext(cg->ctx);
  LLVMValueRef bits[64];
  if (vw > 64) die("codegen: a vector of %d lanes", vw);
  for (int l = 0; l < vw; l++) bits[l] = LLVMConstInt(i1, l >= lo && l < hi, 0);
  return LLVMConstVector(bits, (unsigned)vw);
}

LLVMValueRef cg_masked_load(Cg *cg, LLVMValueRef ptr, LLVMValueRef mask) {
  LLVMValueRef args[4] = {ptr, LLVMConstInt(cg->i32, 4, 0), mask, LLVMConstNull(cg->vec)};
  LLVMTypeRef over[2] = {cg->vec, cg->ptr};
  return cg_call_intrinsic(cg, "llvm.masked.load", over, 2, args, 4);
}

LLVMValueRef cg_offset(Cg *cg, const CgPoint *p, const int64_t *st) {
  LLVMValueRef off = NULL;
  for (int j = 0; j < p->n; j++) {
    int64_t s = st[p->dim[j]];
    if (s == 0) continue;
    LLVMValueRef t = s == 1 ? p->idx[j] : LLVMBuildMul(cg->b, p->idx[j], cg_i64(cg, s), "");
    if (t != p->idx[j] && LLVMIsAInstruction(t)) LLVMSetNSW(t, 1);   /* constants fold */
    LLVMValueRef sum = off ? LLVMBuildAdd(cg->b, off, t, "") : t;
    if (sum != t && LLVMIsAInstruction(sum)) LLVMSetNSW(sum, 1);
    off = sum;
  }
  return off ? off : cg_i64(cg, 0);
}

LLVMValueRef cg_load(Cg *cg, LLVMValueRef base, LLVMValueRef off) {
  LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->f32, base, &off, 1, "");
  LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->f32, p, "");
  LLVMSetAlignment(v, 4);
  return v;
}

void cg_store(Cg *cg, LLVMValueRef base, LLVMValueRef off, LLVMValueRef v) {
  LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->f32, base, &off, 1, "");
  LLVMSetAlignment(LLVMBuildStore(cg->b, v, p), 4);
}

LLVMValueRef cg_range_begin(Cg *cg, CgRange *r, LLVMValueRef start, LLVMValueRef end) {
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "then");
  r->after = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "after");
  LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, start, end, ""), then, r->after);
  LLVMPositionBuilderAtEnd(cg->b, then);
  return cg_loop_begin(cg, &r->loop, start, end, cg_i64(cg, 1));
}

void cg_range_end(Cg *cg, CgRange *r) {
  cg_loop_end(cg, &r->loop);
  LLVMBuildBr(cg->b, r->after);
  LLVMPositionBuilderAtEnd(cg->b, r->after);
}

LLVMValueRef cg_smin(Cg *cg, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, a, b, ""), a, b, "");
}

LLVMValueRef cg_smax(Cg *cg, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, a, b, ""), a, b, "");
}

void cg_unit_range(Cg *cg, int64_t total, LLVMValueRef *s, LLVMValueRef *e) {
  LLVMValueRef grain = cg_i64(cg, cg->step->grain);
  *s = LLVMBuildMul(cg->b, cg->lo, grain, "");
  *e = cg_smin(cg, LLVMBuildMul(cg->b, cg->hi, grain, ""), cg_i64(cg, total));
}

LLVMValueRef cg_coord(Cg *cg, const CgPoint *p, int d) {
  Shape space = cg->fp->groups[cg->group].space;
  for (int j = 0; j < p->n; j++) {
    int first = j ? p->dim[j - 1] + 1 : 0;
    if (d < first || d > p->dim[j]) continue;
    int64_t below = 1;   /* the sizes merged after d */
    for (int e = d + 1; e <= p->dim[j]; e++) below *= space.dim[e];
    LLVMValueRef v = below > 1 ? LLVMBuildUDiv(cg->b, p->idx[j], cg_i64(cg, below), "") : p->idx[j];
    return d > first ? LLVMBuildURem(cg->b, v, cg_i64(cg, space.dim[d]), "") : v;
  }
  return cg_i64(cg, 0);
}

/* ---- scalar ops ---- */

static const IrNode *const_leaf(const IrNode *n) {
  while (n->op != OP_CONST) n = n->src[0];
  return n;
}

static LLVMValueRef arith(Cg *cg, LLVMOpcode op, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildBinOp(cg->b, op, a, b, "");
}

static LLVMValueRef unary_f32(Cg *cg, const char *intrinsic, LLVMValueRef a) {
  return cg_call_intrinsic(cg, intrinsic, &cg->f32, 1, &a, 1);
}

static LLVMValueRef lt(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFCmp(cg->b, LLVMRealOLT, a, b, ""); }
static LLVMValueRef sel(Cg *cg, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(cg->b, c, a, b, "");
}

/* ---- exp and tanh inline: straight-line float code the vectorizer takes
 * (a libm call would keep the loop scalar); both within ~2 ulp ---- */

static LLVMValueRef fma3(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  return cg_call_intrinsic(cg, "llvm.fma", &cg->f32, 1, args, 3);
}

static LLVMValueRef horner(Cg *cg, LLVMValueRef x, const double *c, int n) {
  LLVMValueRef p = cg_f32(cg, c[n - 1]);
  for (int i = n - 2; i >= 0; i--) p = fma3(cg, p, x, cg_f32(cg, c[i]));
  return p;
}

static LLVMValueRef bin_intrinsic(Cg *cg, const char *name, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef args[2] = {a, b};
  return cg_call_intrinsic(cg, name, &cg->f32, 1, args, 2);
}

/* 2^k for integer-valued float k in [-150, 129], as two normal factors. */
static LLVMValueRef pow2_parts(Cg *cg, LLVMValueRef kf, LLVMValueRef *second) {
  LLVMValueRef k = LLVMBuildFPToSI(cg->b, kf, cg->i32, "");
  LLVMValueRef k1 = LLVMBuildAShr(cg->b, k, LLVMConstInt(cg->i32, 1, 0), "");
  LLVMValueRef k2 = LLVMBuildSub(cg->b, k, k1, "");
  LLVMValueRef e[2];
  LLVMValueRef ks[2] = {k1, k2};
  for (int i = 0; i < 2; i++) {
    LLVMValueRef bits = LLVMBuildShl(cg->b, LLVMBuildAdd(cg->b, ks[i], LLVMConstInt(cg->i32, 127, 0), ""),
                                     LLVMConstInt(cg->i32, 23, 0), "");
    e[i] = LLVMBuildBitCast(cg->b, bits, cg->f32, "");
  }
  *second = e[1];
  return e[0];
}

/* e^x: k = round(x / ln 2), r = x - k ln 2 (two-part ln 2), Taylor to r^7
 * on |r| <= 0.35, times 2^k.  x is clamped first so k stays in range (and
 * the result still overflows to inf / underflows to 0); NaN passes through. */
static LLVMValueRef inline_exp(Cg *cg, LLVMValueRef x) {
  static const double taylor[] = {1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040};
  LLVMValueRef xc = bin_intrinsic(cg, "llvm.minnum", bin_intrinsic(cg, "llvm.maxnum", x, cg_f32(cg, -104)), cg_f32(cg, 89));
  LLVMValueRef kf = unary_f32(cg, "llvm.rint", LLVMBuildFMul(cg->b, xc, cg_f32(cg, 1.4426950408889634), ""));
  LLVMValueRef r = fma3(cg, LLVMBuildFNeg(cg->b, kf, ""), cg_f32(cg, 0.693145751953125), xc);
  r = fma3(cg, LLVMBuildFNeg(cg->b, kf, ""), cg_f32(cg, 1.428606765330187045e-06), r);
  LLVMValueRef s2, s1 = pow2_parts(cg, kf, &s2);
  LLVMValueRef y = LLVMBuildFMul(cg->b, LLVMBuildFMul(cg->b, horner(cg, r, taylor, 8), s1, ""), s2, "");
  return sel(cg, LLVMBuildFCmp(cg->b, LLVMRealUNO, x, x, ""), x, y);
}

/* e^x - 1: the Taylor polynomial to x^9 for |x| < 0.5 (truncation < 3e-9
 * relative), where e^x - 1 would cancel; elsewhere e^x - 1 loses at most a
 * bit. */
static LLVMValueRef inline_expm1(Cg *cg, LLVMValueRef x) {
  static const double taylor[] = {1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
                                  1.0 / 362880};
  LLVMValueRef small = LLVMBuildFMul(cg->b, x, horner(cg, x, taylor, 9), "");
  LLVMValueRef big = LLVMBuildFSub(cg->b, inline_exp(cg, x), cg_f32(cg, 1), "");
  return sel(cg, lt(cg, unary_f32(cg, "llvm.fabs", x), cg_f32(cg, 0.5)), small, big);
}

/* tanh: odd Taylor polynomial to x^15 for |x| < 0.55 (truncation < 3e-8
 * relative), else sign(x) (1 - 2 / (e^{2|x|} + 1)), which has no
 * cancellation there (the result is above 0.5). */
static LLVMValueRef inline_tanh(Cg *cg, LLVMValueRef x) {
  static const double odd[] = {1.0, -1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835, -1382.0 / 155925,
                               21844.0 / 6081075, -929569.0 / 638512875};
  LLVMValueRef a = unary_f32(cg, "llvm.fabs", x);
  LLVMValueRef x2 = LLVMBuildFMul(cg->b, x, x, "");
  LLVMValueRef small = LLVMBuildFMul(cg->b, x, horner(cg, x2, odd, 8), "");
  LLVMValueRef e = inline_exp(cg, LLVMBuildFAdd(cg->b, a, a, ""));
  LLVMValueRef t = LLVMBuildFSub(cg->b, cg_f32(cg, 1),
                                 LLVMBuildFDiv(cg->b, cg_f32(cg, 2), LLVMBuildFAdd(cg->b, e, cg_f32(cg, 1), ""), ""), "");
  LLVMValueRef big = bin_intrinsic(cg, "llvm.copysign", t, x);
  return sel(cg, lt(cg, a, cg_f32(cg, 0.55)), small, big);
}

/* softplus: max(x, 0) + log1p(e^-|x|).  With t = e^-|x| in (0, 1],
 * log1p(t) = 2 atanh(s) for s = t / (2 + t) <= 1/3, whose odd series to s^17
 * is exact to float rounding (truncation < 2e-9); no cancellation anywhere,
 * so the result is accurate relative to itself even where it is e^x << 1. */
static LLVMValueRef inline_softplus(Cg *cg, LLVMValueRef x) {
  static const double odd[] = {2.0, 2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13, 2.0 / 15, 2.0 / 17};
  LLVMValueRef t = inline_exp(cg, LLVMBuildFNeg(cg->b, unary_f32(cg, "llvm.fabs", x), ""));
  LLVMValueRef s = LLVMBuildFDiv(cg->b, t, LLVMBuildFAdd(cg->b, t, cg_f32(cg, 2), ""), "");
  LLVMValueRef l = LLVMBuildFMul(cg->b, s, horner(cg, LLVMBuildFMul(cg->b, s, s, ""), odd, 9), "");
  return LLVMBuildFAdd(cg->b, sel(cg, lt(cg, cg_f32(cg, 0), x), x, cg_f32(cg, 0)), l, "");
}

/* erfc: for z = |x|, erfc z = t e^(-z^2 + p(2t - 1)) with t = 1/(1 + z/2) and
 * p a degree-11 polynomial fitted by least squares to log(erfc(z)/t) + z^2
 * on t in [0.02, 1]; e^-z^2 is taken as e^-hi e^-lo with z^2 = hi + lo
 * split exactly by an FMA, so the tail keeps its relative accuracy (within
 * 5e-7 wherever erfc z is a normal float).  erfc(-z) = 2 - erfc z.  z is
 * clamped at 11, where erfc is below the smallest float, so an infinite x
 * gives 0 or 2; NaN passes through. */
static LLVMValueRef inline_erfc(Cg *cg, LLVMValueRef x) {
  static const double p[] = {-0.67179409122256162,   0.67264315057830848,    0.047343858750274061,
                             -0.046893537091888489,  -0.0098797363812869743, 0.0088081253561450457,
                             0.0017931148157596132,  -0.0022868617549673697, -0.00022662491876041674,
                             0.00057152908365341686, 7.3995507006142062e-06, -8.6336826433496041e-05};
  LLVMValueRef z = bin_intrinsic(cg, "llvm.minnum", unary_f32(cg, "llvm.fabs", x), cg_f32(cg, 11));
  LLVMValueRef t = LLVMBuildFDiv(cg->b, cg_f32(cg, 1), fma3(cg, z, cg_f32(cg, 0.5), cg_f32(cg, 1)), "");
  LLVMValueRef poly = horner(cg, fma3(cg, t, cg_f32(cg, 2), cg_f32(cg, -1)), p, (int)COUNT_OF(p));
  LLVMValueRef hi = LLVMBuildFMul(cg->b, z, z, "");
  LLVMValueRef lo = fma3(cg, z, z, LLVMBuildFNeg(cg->b, hi, ""));
  LLVMValueRef tail = LLVMBuildFMul(cg->b, inline_exp(cg, LLVMBuildFNeg(cg->b, hi, "")),
                                    inline_exp(cg, LLVMBuildFSub(cg->b, poly, lo, "")), "");
  LLVMValueRef r = LLVMBuildFMul(cg->b, t, tail, "");
  LLVMValueRef y = sel(cg, lt(cg, x, cg_f32(cg, 0)), LLVMBuildFSub(cg->b, cg_f32(cg, 2), r, ""), r);
  return sel(cg, LLVMBuildFCmp(cg->b, LLVMRealUNO, x, x, ""), x, y);
}

/* 1 - a^b in double (see ops.c), rounded once to float. */
static LLVMValueRef pow1m(Cg *cg, LLVMValueRef a, LLVMValueRef b) {
  LLVMTypeRef f64 = LLVMDoubleTypeInContext(cg->ctx);
  LLVMValueRef args[2] = {LLVMBuildFPExt(cg->b, a, f64, ""), LLVMBuildFPExt(cg->b, b, f64, "")};
  LLVMValueRef p = cg_call_intrinsic(cg, "llvm.pow", &f64, 1, args, 2);
  return LLVMBuildFPTrunc(cg->b, LLVMBuildFSub(cg->b, LLVMConstReal(f64, 1.0), p, ""), cg->f32, "");
}

static LLVMValueRef scalar_op(Cg *cg, IrOp op, LLVMValueRef *a) {
  switch (op) {
  case OP_NEG: return LLVMBuildFNeg(cg->b, a[0], "");
  case OP_EXP: return inline_exp(cg, a[0]);
  case OP_EXPM1: return inline_expm1(cg, a[0]);
  case OP_LOG: return unary_f32(cg, "llvm.log", a[0]);
  case OP_SQRT: return unary_f32(cg, "llvm.sqrt", a[0]);
  case OP_ABS: return unary_f32(cg, "llvm.fabs", a[0]);
  case OP_SIN: return unary_f32(cg, "llvm.sin", a[0]);
  case OP_COS: return unary_f32(cg, "llvm.cos", a[0]);
  case OP_TANH: return inline_tanh(cg, a[0]);
  case OP_SOFTPLUS: return inline_softplus(cg, a[0]);
  case OP_ERFC: return inline_erfc(cg, a[0]);
  case OP_SIGN:
    return sel(cg, lt(cg, a[0], cg_f32(cg, 0)), cg_f32(cg, -1),
               sel(cg, lt(cg, cg_f32(cg, 0), a[0]), cg_f32(cg, 1), cg_f32(cg, 0)));
  case OP_ADD: return arith(cg, LLVMFAdd, a[0], a[1]);
  case OP_SUB: return arith(cg, LLVMFSub, a[0], a[1]);
  case OP_MUL: return arith(cg, LLVMFMul, a[0], a[1]);
  case OP_DIV: return arith(cg, LLVMFDiv, a[0], a[1]);
  case OP_POW: return cg_call_intrinsic(cg, "llvm.pow", &cg->f32, 1, a, 2);
  case OP_POW1M: return pow1m(cg, a[0], a[1]);
  case OP_MAX: return sel(cg, lt(cg, a[1], a[0]), a[0], a[1]);
  case OP_MIN: return sel(cg, lt(cg, a[0], a[1]), a[0], a[1]);
  case OP_CMPLT: return sel(cg, lt(cg, a[0], a[1]), cg_f32(cg, 1), cg_f32(cg, 0));
  case OP_WHERE: return sel(cg, LLVMBuildFCmp(cg->b, LLVMRealUNE, a[0], cg_f32(cg, 0), ""), a[1], a[2]);
  default: die("codegen: %s is not elementwise", op_info[op].name);
  }
}

/* ir_rand_uniform(seed, counter, first + index) in i32 arithmetic. */
static LLVMValueRef rand_value(Cg *cg, uint32_t seed, uint32_t first, LLVMValueRef counter_f, LLVMValueRef index64) {
  LLVMTypeRef sat[2] = {cg->i64, cg->f32};
  LLVMValueRef fl = unary_f32(cg, "llvm.floor", counter_f);
  LLVMValueRef c64 = cg_call_intrinsic(cg, "llvm.fptosi.sat", sat, 2, &fl, 1);
  LLVMValueRef c = LLVMBuildTrunc(cg->b, c64, cg->i32, "");
#define K32(x) LLVMConstInt(cg->i32, (x), 0)
  LLVMValueRef i = LLVMBuildAdd(cg->b, LLVMBuildTrunc(cg->b, index64, cg->i32, ""), K32(first), "");
  LLVMValueRef h = LLVMBuildXor(cg->b, K32(seed * 0x9E3779B1u), LLVMBuildMul(cg->b, c, K32(0x85EBCA77u), ""), "");
  h = LLVMBuildXor(cg->b, h, LLVMBuildMul(cg->b, i, K32(0xC2B2AE3Du), ""), "");
  h = LLVMBuildXor(cg->b, h, LLVMBuildLShr(cg->b, h, K32(16), ""), "");
  h = LLVMBuildMul(cg->b, h, K32(0x7FEB352Du), "");
  h = LLVMBuildXor(cg->b, h, LLVMBuildLShr(cg->b, h, K32(15), ""), "");
  h = LLVMBuildMul(cg->b, h, K32(0x846CA68Bu), "");
  h = LLVMBuildXor(cg->b, h, LLVMBuildLShr(cg->b, h, K32(16), ""), "");
  LLVMValueRef top = LLVMBuildUIToFP(cg->b, LLVMBuildLShr(cg->b, h, K32(8), ""), cg->f32, "");
#undef K32
  return LLVMBuildFMul(cg->b, top, cg_f32(cg, 1.0 / 16777216.0), "");
}

/* ---- evaluation at a point ---- */

static int space_ndim(Cg *cg) { return cg->fp->groups[cg->group].space.ndim; }

static void own_strides(Cg *cg, const IrNode *n, int64_t *st) { schedule_own_strides(cg->fp, n, space_ndim(cg), st); }

static LLVMValueRef member(Cg *cg, const IrNode *u, const CgPoint *p);

static LLVMValueRef value(Cg *cg, const IrNode *s, const int *map, const CgPoint *p) {
  const FuseNode *f = &cg->fp->node[s->id];
  if (f->role == ROLE_CONST) return cg_f32(cg, const_leaf(s)->value);
  if (s == cg->mm) return cg->mm_value;
  if (f->role == ROLE_MEMBER && f->group == cg->group) return member(cg, s, p);
  int64_t st[IR_MAX_DIMS];
  fuse_space_strides(cg->fp, s, map, space_ndim(cg), st);
  return cg_load(cg, cg->bufptr[plan_buf_of_view(cg->mp, s)], cg_offset(cg, p, st));
}

LLVMValueRef cg_load_at(Cg *cg, const IrNode *s, LLVMValueRef const *co) {
  const FuseNode *f = &cg->fp->node[s->id];
  if (f->role == ROLE_CONST) return cg_f32(cg, const_leaf(s)->value);
  CgPoint p = {.n = s->shape.ndim};
  for (int k = 0; k < s->shape.ndim; k++) p.idx[k] = co[k], p.dim[k] = k;
  return cg_load(cg, cg->bufptr[plan_buf_of_view(cg->mp, s)], cg_offset(cg, &p, f->stride));
}

/* slice and pad at a point: the source element at the point's coordinates
 * moved along the axis (pad: 0 where that falls outside the source).  The
 * source has a buffer of its own: it never joins its reader's loop. */
static LLVMValueRef range_member(Cg *cg, const IrNode *u, const CgPoint *p) {
  const int *map = cg->fp->node[u->id].map;
  const IrNode *s = u->src[0];
  int ax = u->range.axis;
  LLVMValueRef co[IR_MAX_DIMS];
  for (int k = 0; k < u->shape.ndim; k++) co[k] = map[k] >= 0 ? cg_coord(cg, p, map[k]) : cg_i64(cg, 0);
  if (u->op == OP_SLICE) {
    co[ax] = LLVMBuildAdd(cg->b, co[ax], cg_i64(cg, u->range.start), "");
    return cg_load_at(cg, s, co);
  }
  LLVMValueRef j = LLVMBuildSub(cg->b, co[ax], cg_i64(cg, u->range.start), "");
  LLVMValueRef inside = LLVMBuildICmp(cg->b, LLVMIntULT, j, cg_i64(cg, s->shape.dim[ax]), "");
  co[ax] = LLVMBuildSelect(cg->b, inside, j, cg_i64(cg, 0), "");
  return sel(cg, inside, cg_load_at(cg, s, co), cg_f32(cg, 0));
}

static LLVMValueRef member(Cg *cg, const IrNode *u, const CgPoint *p) {
  if (u == cg->mm) return cg->mm_value;
  if (cg->memo[u->id]) return cg->memo[u->id];
  const int *map = cg->fp->node[u->id].map;
  LLVMValueRef a[3], v;
  int m[IR_MAX_DIMS];
  switch (op_info[u->op].kind) {
  case OPK_LEAF: v = cg_f32(cg, u->value); break;
  case OPK_MOVE:
    fuse_src_map(u, map, 0, m);
    v = value(cg, u->src[0], m, p);
    break;
  case OPK_RAND: {
    int64_t st[IR_MAX_DIMS];
    fuse_src_map(u, map, 0, m);
    own_strides(cg, u, st);
    v = rand_value(cg, u->seed, u->first, value(cg, u->src[0], m, p), cg_offset(cg, p, st));
    break;
  }
  case OPK_UNARY:
  case OPK_BINARY:
  case OPK_SELECT:
    for (int k = 0; k < u->nsrc; k++) {
      fuse_src_map(u, map, k, m);
      a[k] = value(cg, u->src[k], m, p);
    }
    v = scalar_op(cg, u->op, a);
    break;
  case OPK_WINDOW: v = window_member(cg, u, p); break;
  case OPK_RANGE: v = range_member(cg, u, p); break;
  default: die("codegen: %s inside an elementwise loop", op_info[u->op].name);
  }
  cg->memo[u->id] = v;
  return v;
}

static void store_members(Cg *cg, const CgPoint *p, bool skip_root) {
  const FuseGroup *G = &cg->fp->groups[cg->group];
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    if (!cg->fp->node[u->id].stored || (skip_root && u == G->root)) continue;
    int64_t st[IR_MAX_DIMS];
    own_strides(cg, u, st);
    cg_store(cg, cg->bufptr[cg->mp->buf_of[u->id]], cg_offset(cg, p, st), member(cg, u, p));
  }
}

void cg_eval_store(Cg *cg, const CgPoint *p) {
  memset(cg->memo, 0, sizeof(LLVMValueRef) * (size_t)cg->fp->g->nodes.len);
  store_members(cg, p, false);
}

/* ---- loop nests ---- */

/* Opens the nest's loops at p.  Loop `split` (none: -1) runs over the
 * step's units [lo, hi) only (the kernel's last two arguments). */
static void loops_begin(Cg *cg, const LoopNest *L, CgPoint *p, CgLoop *lp, int split) {
  for (int j = 0; j < L->n; j++) {
    LLVMValueRef start = cg_i64(cg, 0), end = cg_i64(cg, L->size[j]);
    if (j == split) cg_unit_range(cg, L->size[j], &start, &end);
    p->idx[p->n] = cg_loop_begin(cg, &lp[j], start, end, cg_i64(cg, 1));
    p->dim[p->n++] = L->hi[j];
  }
}

static void loops_end(Cg *cg, const LoopNest *L, CgPoint *p, CgLoop *lp) {
  for (int j = L->n - 1; j >= 0; j--) cg_loop_end(cg, &lp[j]);
  p->n -= L->n;
}

/* ---- kernels ---- */

static void emit_elemwise(Cg *cg) {
  CgPoint p = {0};
  CgLoop lp[IR_MAX_DIMS];
  loops_begin(cg, &cg->step->loops, &p, lp, 0);
  cg_eval_store(cg, &p);
  loops_end(cg, &cg->step->loops, &p, lp);
}

/* A reduction's starting value and its step (the sums' `reassoc` aside). */
static LLVMValueRef reduce_identity(Cg *cg, IrOp op) {
  return cg_f32(cg, op == OP_SUM ? 0.0 : op == OP_RMIN ? INFINITY : -INFINITY);
}

static LLVMValueRef reduce_step(Cg *cg, IrOp op, LLVMValueRef acc, LLVMValueRef v) {
  return bin_intrinsic(cg, op == OP_RMIN ? "llvm.minnum" : "llvm.maxnum", acc, v);
}

/* A sum, max or min whose innermost axis is kept (column sums, bias gradients):
 * the output starts at the identity and every point of the space, in memory
 * order, combines into its output element, so the inner loop runs along
 * contiguous outputs and vectorizes.  Split by columns, a thread does this
 * for its slice of the inner loop, which is its slice of the outputs. */
static void emit_reduce_in_memory(Cg *cg, const FuseGroup *G) {
  const IrNode *r = G->root;
  const LoopNest *L = &cg->step->loops;
  bool columns = cg->step->split_columns;
  LLVMValueRef out = cg->bufptr[cg->mp->buf_of[r->id]];
  LLVMValueRef identity = reduce_identity(cg, r->op);
  LLVMValueRef first = cg_i64(cg, 0), end = cg_i64(cg, shape_numel(r->shape));
  if (columns) cg_unit_range(cg, shape_numel(r->shape), &first, &end);
  CgLoop li;
  LLVMValueRef e = cg_loop_begin(cg, &li, first, end, cg_i64(cg, 1));
  cg_store(cg, out, e, identity);
  cg_loop_end(cg, &li);
  CgPoint p = {0};
  CgLoop lp[IR_MAX_DIMS];
  loops_begin(cg, L, &p, lp, columns ? L->n - 1 : -1);
  memset(cg->memo, 0, sizeof(LLVMValueRef) * (size_t)cg->fp->g->nodes.len);
  store_members(cg, &p, true);
  int m[IR_MAX_DIMS];
  fuse_src_map(r, NULL, 0, m);
  LLVMValueRef v = value(cg, r->src[0], m, &p);
  int64_t st[IR_MAX_DIMS];
  own_strides(cg, r, st);
  LLVMValueRef off = cg_offset(cg, &p, st);
  LLVMValueRef a = cg_load(cg, out, off);
  cg_store(cg, out, off, r->op == OP_SUM ? arith(cg, LLVMFAdd, a, v) : reduce_step(cg, r->op, a, v));
  loops_end(cg, L, &p, lp);
}

/* A row-wise group (kept axes outside, reduced axes inside).  A member's
 * stage is the number of the group's reductions on its longest path from
 * the group's inputs (a reduction counts itself).  Per row: pass s = 1..S
 * over the reduced axes accumulates the stage-s reductions in registers
 * (sums, maxes and logsumexp's max; then one more pass for logsumexp's sum
 * of exp(x - max)) and stores the space members of stage s-1; between passes
 * the row values of the stage just finished are computed once; a last pass
 * stores the space members of stage S (the softmax-minus-target row). */
typedef struct {
  int *stage;            /* per node id */
  bool *at_row;          /* per node id: a reduction or a value of the rows */
  LLVMValueRef *row;     /* per node id: row value at the current row */
  LLVMValueRef *slot;    /* per node id: a reduction's accumulator (logsumexp: its max) */
  LLVMValueRef *sum;     /* per node id: logsumexp's sum of exp(x - shift) */
  LLVMValueRef *max;     /* per node id: logsumexp's max at the current row ... */
  LLVMValueRef *shift;   /* ... and the value subtracted: the max, or 0 when infinite */
} Rows;

static bool in_group(Cg *cg, const IrNode *n) {
  const FuseNode *f = &cg->fp->node[n->id];
  return f->role == ROLE_MEMBER && f->group == cg->group;
}

/* Row values of stage s at row point p (outside the reduced loops, so they
 * are computed once per row and dominate every later pass). */
static void row_values(Cg *cg, const FuseGroup *G, Rows *w, const CgPoint *p, int s) {
  size_t bytes = sizeof(LLVMValueRef) * (size_t)cg->fp->g->nodes.len;
  memcpy(cg->memo, w->row, bytes);
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    if (w->at_row[u->id] && op_info[u->op].kind != OPK_REDUCE && w->stage[u->id] == s) member(cg, u, p);
  }
  memcpy(w->row, cg->memo, bytes);
}

/* One pass over the reduced axes at row point p: accumulates the stage-s
 * reductions (sumexp: the logsumexps' second pass) and stores the stored
 * space members of stage `store` (-1: none). */
static void row_pass(Cg *cg, const FuseGroup *G, Rows *w, const LoopNest *R, CgPoint *p, int s, bool sumexp,
                     int store) {
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    if (op_info[u->op].kind != OPK_REDUCE || w->stage[u->id] != s) continue;
    if (sumexp && u->op == OP_LOGSUMEXP) LLVMBuildStore(cg->b, cg_f32(cg, 0.0), w->sum[u->id]);
    if (!sumexp) LLVMBuildStore(cg->b, reduce_identity(cg, u->op), w->slot[u->id]);
  }
  CgLoop lp[IR_MAX_DIMS];
  loops_begin(cg, R, p, lp, -1);
  memcpy(cg->memo, w->row, sizeof(LLVMValueRef) * (size_t)cg->fp->g->nodes.len);
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    if (op_info[u->op].kind == OPK_REDUCE) {
      if (w->stage[u->id] != s || (sumexp && u->op != OP_LOGSUMEXP)) continue;
      int m[IR_MAX_DIMS];
      fuse_src_map(u, NULL, 0, m);
      LLVMValueRef v = value(cg, u->src[0], m, p);
      LLVMValueRef slot = sumexp ? w->sum[u->id] : w->slot[u->id];
      LLVMValueRef a = LLVMBuildLoad2(cg->b, cg->f32, slot, ""), r;
      if (u->op == OP_SUM || sumexp) {
        if (sumexp) v = inline_exp(cg, LLVMBuildFSub(cg->b, v, w->shift[u->id], ""));
        r = LLVMBuildFAdd(cg->b, a, v, "");
        LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
      } else {
        r = reduce_step(cg, u->op, a, v);
      }
      LLVMBuildStore(cg->b, r, slot);
    } else if (!w->at_row[u->id] && cg->fp->node[u->id].stored && w->stage[u->id] == store) {
      int64_t st[IR_MAX_DIMS];
      own_strides(cg, u, st);
      cg_store(cg, cg->bufptr[cg->mp->buf_of[u->id]], cg_offset(cg, p, st), member(cg, u, p));
    }
  }
  loops_end(cg, R, p, lp);
}

static void emit_rows(Cg *cg, const FuseGroup *G) {
  int nn = cg->fp->g->nodes.len;
  Rows w = {xcalloc((size_t)nn + 1, sizeof(int)), xcalloc((size_t)nn + 1, sizeof(bool)),
            xcalloc((size_t)nn + 1, sizeof(LLVMValueRef)), xcalloc((size_t)nn + 1, sizeof(LLVMValueRef)),
            xcalloc((size_t)nn + 1, sizeof(LLVMValueRef)), xcalloc((size_t)nn + 1, sizeof(LLVMValueRef)),
            xcalloc((size_t)nn + 1, sizeof(LLVMValueRef))};
  int64_t full = shape_numel(G->space);
  int S = 0;
  bool last = false;   /* a stored space member of stage S: needs the last pass */
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    int s = 0;
    for (int k = 0; k < u->nsrc; k++)
      if (in_group(cg, u->src[k]) && w.stage[u->src[k]->id] > s) s = w.stage[u->src[k]->id];
    bool red = op_info[u->op].kind == OPK_REDUCE;
    if (red) {
      s++;
      w.slot[u->id] = LLVMBuildAlloca(cg->b, cg->f32, "acc");
      if (u->op == OP_LOGSUMEXP) w.sum[u->id] = LLVMBuildAlloca(cg->b, cg->f32, "sumexp");
    }
    if (s > S) S = s;
    w.stage[u->id] = s;
    w.at_row[u->id] = red || shape_numel(u->shape) != full;
  }
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    if (!w.at_row[u->id] && cg->fp->node[u->id].stored && w.stage[u->id] == S) last = true;
  }
  const LoopNest *K = &cg->step->loops, *R = &cg->step->inner;
  CgPoint p = {0};
  CgLoop lp[IR_MAX_DIMS];
  loops_begin(cg, K, &p, lp, 0);
  for (int s = 1; s <= S; s++) {
    row_values(cg, G, &w, &p, s - 1);
    row_pass(cg, G, &w, R, &p, s, false, s - 1);
    bool lse = false;
    for (int i = 0; i < G->nmembers; i++) {
      const IrNode *u = G->members[i];
      if (op_info[u->op].kind != OPK_REDUCE || w.stage[u->id] != s) continue;
      LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->f32, w.slot[u->id], "");
      if (u->op == OP_LOGSUMEXP) {
        /* logsumexp = m + log(sum exp(x - m)), m = max x; an infinite m is the answer itself */
        LLVMValueRef inf = LLVMBuildFCmp(cg->b, LLVMRealOEQ, unary_f32(cg, "llvm.fabs", v), cg_f32(cg, INFINITY), "");
        w.max[u->id] = v;
        w.shift[u->id] = sel(cg, inf, cg_f32(cg, 0), v);
        lse = true;
      }
      w.row[u->id] = v;
    }
    if (!lse) continue;
    row_pass(cg, G, &w, R, &p, s, true, -1);
    for (int i = 0; i < G->nmembers; i++) {
      const IrNode *u = G->members[i];
      if (u->op != OP_LOGSUMEXP || w.stage[u->id] != s) continue;
      LLVMValueRef m = w.max[u->id], sum = LLVMBuildLoad2(cg->b, cg->f32, w.sum[u->id], "");
      LLVMValueRef inf = LLVMBuildFCmp(cg->b, LLVMRealOEQ, unary_f32(cg, "llvm.fabs", m), cg_f32(cg, INFINITY), "");
      w.row[u->id] = sel(cg, inf, m, LLVMBuildFAdd(cg->b, w.shift[u->id], unary_f32(cg, "llvm.log", sum), ""));
    }
  }
  row_values(cg, G, &w, &p, S);
  if (last) row_pass(cg, G, &w, R, &p, S + 1, false, S);
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    if (!w.at_row[u->id] || !cg->fp->node[u->id].stored) continue;
    int64_t st[IR_MAX_DIMS];
    own_strides(cg, u, st);
    cg_store(cg, cg->bufptr[cg->mp->buf_of[u->id]], cg_offset(cg, &p, st), w.row[u->id]);
  }
  loops_end(cg, K, &p, lp);
  free(w.stage), free(w.at_row), free(w.row), free(w.slot), free(w.sum), free(w.max), free(w.shift);
}

static void emit_reduce(Cg *cg, const FuseGroup *G) {
  if (G->rowwise)
    emit_rows(cg, G);
  else
    emit_reduce_in_memory(cg, G);
}

/* dst (contiguous, src's shape) = src's elements, read from src_buf
 * contiguously, through src's view, or folded when src is constant. */
static void emit_copy(Cg *cg, const IrNode *src, int src_buf, int dst) {
  const FuseNode *f = &cg->fp->node[src->id];
  bool konst = src_buf < 0 && f->role == ROLE_CONST;
  int64_t ld[IR_MAX_DIMS] = {0}, stt[IR_MAX_DIMS] = {0};
  fuse_contig_strides(src->shape, stt);
  if (src_buf >= 0)
    memcpy(ld, stt, sizeof ld);
  else if (!konst)
    for (int d = 0; d < src->shape.ndim; d++) ld[d] = src->shape.dim[d] == 1 ? 0 : f->stride[d];
  const LoopNest *L = &cg->step->loops;
  CgPoint p = {0};
  CgLoop lp[IR_MAX_DIMS];
  loops_begin(cg, L, &p, lp, 0);
  LLVMValueRef v;
  if (konst)
    v = cg_f32(cg, const_leaf(src)->value);
  else
    v = cg_load(cg, cg->bufptr[src_buf >= 0 ? src_buf : plan_buf_of_view(cg->mp, src)], cg_offset(cg, &p, ld));
  cg_store(cg, cg->bufptr[dst], cg_offset(cg, &p, stt), v);
  loops_end(cg, L, &p, lp);
}

/* ---- functions ---- */

static void add_attr(Cg *cg, LLVMValueRef fn, const char *k, const char *v) {
  LLVMAddAttributeAtIndex(
      fn, LLVMAttributeFunctionIndex,
      LLVMCreateStringAttribute(cg->ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v)));
}

static void target_attrs(Cg *cg, LLVMValueRef fn) {
  char bits[16];
  snprintf(bits, sizeof bits, "%d", 32 * cg->t->vector_floats);
  add_attr(cg, fn, "target-cpu", cg->t->cpu);
  add_attr(cg, fn, "target-features", cg->t->features);
  add_attr(cg, fn, "prefer-vector-width", bits);
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, nounwind, 0));
}

LLVMValueRef cg_function(Cg *cg, const char *name, LLVMTypeRef *params, unsigned n) {
  LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), params, n, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  target_attrs(cg, fn);
  unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
  for (unsigned i = 0; i < n; i++)
    if (params[i] == cg->ptr) LLVMAddAttributeAtIndex(fn, i + 1, LLVMCreateEnumAttribute(cg->ctx, noalias, 0));
  return fn;
}

typedef struct {
  const MemPlan *mp;   /* for buffer numbers */
  bool *used;          /* per buffer */
} UseScan;

static void mark_read(void *ctx, const IrNode *n, const IrNode *base, const int64_t *st) {
  (void)n, (void)st;
  UseScan *u = ctx;
  u->used[u->mp->buf_of[base->id]] = true;
}

static void step_buffers(const MemPlan *mp, const PlanStep *s, bool *used) {
  if (s->kind == STEP_COPY) {
    if (s->src_buf >= 0) used[s->src_buf] = true;
    else if (mp->fp->node[s->src->id].role != ROLE_CONST) used[plan_buf_of_view(mp, s->src)] = true;
    used[s->dst] = true;
    return;
  }
  UseScan u = {mp, used};
  fuse_group_reads(mp->fp, s->group, mark_read, &u);
  const FuseGroup *G = &mp->fp->groups[s->group];
  for (int i = 0; i < G->nmembers; i++)
    if (mp->fp->node[G->members[i]->id].stored) used[mp->buf_of[G->members[i]->id]] = true;
  if (G->pool) used[mp->buf_of[G->pool->id]] = true;
}

/* Builds the kernel of step si.  Arguments: the used buffers in buffer
 * order, the scratch pointer when the step has scratch, then the unit
 * bounds lo and hi (i64). */
static LLVMValueRef emit_step(Cg *cg, int si, const bool *used) {
  const PlanStep *s = &cg->mp->steps[si];
  cg->step = &cg->sched->steps[si];
  int nargs = 0;
  LLVMTypeRef *params = xcalloc((size_t)cg->mp->nbufs + 4, sizeof(LLVMTypeRef));
  for (int bf = 0; bf < cg->mp->nbufs; bf++)
    if (used[bf]) params[nargs++] = cg->ptr;
  bool scratch = cg->step->scratch > 0;
  if (scratch) params[nargs++] = cg->ptr;
  int nptr = nargs;
  params[nargs++] = cg->i64;
  params[nargs++] = cg->i64;
  char name[32];
  snprintf(name, sizeof name, "nnc_step%d", si);
  LLVMValueRef fn = cg_function(cg, name, params, (unsigned)nargs);
  free(params);
  if (cg->step_entries) {
    /* called from the entry and from the step's pool entry: inlined, its
     * code would be optimized and emitted twice */
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, noinline, 0));
  }
  cg->fn = fn;
  for (int bf = 0, k = 0; bf < cg->mp->nbufs; bf++) cg->bufptr[bf] = used[bf] ? LLVMGetParam(fn, (unsigned)k++) : NULL;
  cg->scratch = scratch ? LLVMGetParam(fn, (unsigned)nptr - 1) : NULL;
  cg->lo = LLVMGetParam(fn, (unsigned)nptr);
  cg->hi = LLVMGetParam(fn, (unsigned)nptr + 1);
  LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
  cg->mm = NULL;
  if (s->kind == STEP_COPY) {
    cg->group = -1;
    emit_copy(cg, s->src, s->src_buf, s->dst);
  } else {
    const FuseGroup *G = &cg->fp->groups[s->group];
    cg->group = s->group;
    switch (G->kind) {
    case FG_ELEMWISE:
      if (!window_alone(cg, G)) emit_elemwise(cg);
      break;
    case FG_REDUCE: emit_reduce(cg, G); break;
    case FG_MATMUL: gemm_emit(cg, G); break;
    case FG_CONV: conv_emit(cg, G); break;
    case FG_COPY: emit_copy(cg, G->root->src[0], -1, cg->mp->buf_of[G->root->id]); break;
    }
  }
  LLVMBuildRetVoid(cg->b);
  return fn;
}

/* In the function being built: a call of step si's kernel on units
 * [lo, hi), its buffers found from the leaf array and the workspace. */
static void emit_call(Cg *cg, int si, LLVMValueRef kernel, const bool *used, LLVMValueRef leaves, LLVMValueRef ws,
                      LLVMValueRef scratch, LLVMValueRef lo, LLVMValueRef hi) {
  const MemPlan *mp = cg->mp;
  LLVMValueRef *args = xcalloc((size_t)mp->nbufs + 4, sizeof(LLVMValueRef));
  unsigned n = 0;
  for (int bf = 0; bf < mp->nbufs; bf++) {
    if (!used[bf]) continue;
    const PlanBuf *pb = &mp->bufs[bf];
    LLVMValueRef i = cg_i64(cg, pb->leaf >= 0 ? pb->leaf : pb->offset);
    args[n++] = pb->leaf >= 0 ? LLVMBuildLoad2(cg->b, cg->ptr, LLVMBuildGEP2(cg->b, cg->ptr, leaves, &i, 1, ""), "")
                              : LLVMBuildGEP2(cg->b, cg->f32, ws, &i, 1, "");
  }
  if (cg->sched->steps[si].scratch > 0) args[n++] = scratch;
  args[n++] = lo;
  args[n++] = hi;
  LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(kernel), kernel, args, n, "");
  free(args);
}

static LLVMValueRef add_function(Cg *cg, const char *name, LLVMTypeRef *params, unsigned n) {
  LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), params, n, 0));
  target_attrs(cg, fn);
  cg->fn = fn;
  LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
  return fn;
}

/* ENTRY(leaves, ws): every step whole, in order, on thread 0's scratch. */
static void emit_entry(Cg *cg, const char *entry, LLVMValueRef *kernels, bool **used) {
  LLVMTypeRef params[2] = {cg->ptr, cg->ptr};
  LLVMValueRef fn = add_function(cg, entry, params, 2);
  LLVMValueRef leaves = LLVMGetParam(fn, 0), ws = LLVMGetParam(fn, 1);
  LLVMValueRef so = cg_i64(cg, schedule_scratch_offset(cg->sched, 0));
  LLVMValueRef scratch = LLVMBuildGEP2(cg->b, cg->f32, ws, &so, 1, "");
  for (int si = 0; si < cg->mp->nsteps; si++)
    emit_call(cg, si, kernels[si], used[si], leaves, ws, scratch, cg_i64(cg, 0), cg_i64(cg, cg->sched->steps[si].units));
  LLVMBuildRetVoid(cg->b);
}

/* ENTRY.stepN(leaves, ws, scratch, lo, hi) per step, for the thread pool. */
static void emit_step_entries(Cg *cg, const char *entry, LLVMValueRef *kernels, bool **used) {
  LLVMTypeRef params[5] = {cg->ptr, cg->ptr, cg->ptr, cg->i64, cg->i64};
  for (int si = 0; si < cg->mp->nsteps; si++) {
    char name[256];
    snprintf(name, sizeof name, "%s.step%d", entry, si);
    LLVMValueRef fn = add_function(cg, name, params, 5);
    LLVMValueRef p[5];
    for (int k = 0; k < 5; k++) p[k] = LLVMGetParam(fn, (unsigned)k);
    emit_call(cg, si, kernels[si], used[si], p[0], p[1], p[2], p[3], p[4]);
    LLVMBuildRetVoid(cg->b);
  }
}

LLVMModuleRef codegen_module(LLVMContextRef ctx, const Schedule *sched, const char *entry, bool step_entries) {
  const MemPlan *mp = sched->mp;
  Cg cg = {0};
  cg.ctx = ctx;
  cg.mod = LLVMModuleCreateWithNameInContext(mp->fp->g->name ? mp->fp->g->name : "nnc", ctx);
  cg.b = LLVMCreateBuilderInContext(ctx);
  cg.f32 = LLVMFloatTypeInContext(ctx);
  cg.i32 = LLVMInt32TypeInContext(ctx);
  cg.i64 = LLVMInt64TypeInContext(ctx);
  cg.ptr = LLVMPointerTypeInContext(ctx, 0);
  cg.t = sched->t;
  cg.vec = LLVMVectorType(cg.f32, (unsigned)cg.t->vector_floats);
  cg.sched = sched;
  cg.step_entries = step_entries;
  cg.mp = mp;
  cg.fp = mp->fp;
  cg.bufptr = xcalloc((size_t)mp->nbufs + 1, sizeof(LLVMValueRef));
  cg.memo = xcalloc((size_t)mp->fp->g->nodes.len + 1, sizeof(LLVMValueRef));
  LLVMValueRef *kernels = xcalloc((size_t)mp->nsteps + 1, sizeof(LLVMValueRef));
  bool **used = xcalloc((size_t)mp->nsteps + 1, sizeof(bool *));
  for (int si = 0; si < mp->nsteps; si++) {
    used[si] = xcalloc((size_t)mp->nbufs + 1, sizeof(bool));
    step_buffers(mp, &mp->steps[si], used[si]);
    kernels[si] = emit_step(&cg, si, used[si]);
  }
  emit_entry(&cg, entry, kernels, used);
  if (step_entries) emit_step_entries(&cg, entry, kernels, used);
  for (int si = 0; si < mp->nsteps; si++) free(used[si]);
  free(used);
  free(kernels);
  free(cg.memo);
  free(cg.bufptr);
  LLVMDisposeBuilder(cg.b);
  return cg.mod;
}

/* ---- optimization ---- */

static void dump(FILE *out, LLVMModuleRef mod) {
  char *s = LLVMPrintModuleToString(mod);
  fputs(s, out);
  LLVMDisposeMessage(s);
}

bool codegen_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, FILE *dump_before,
                      FILE *dump_after, char *err, size_t errlen) {
  if (opt_level < 0 || opt_level > 3) opt_level = 3;
  char *vmsg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &vmsg)) {
    snprintf(err, errlen, "generated module is invalid: %s", vmsg);
    LLVMDisposeMessage(vmsg);
    return false;
  }
  LLVMDisposeMessage(vmsg);
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(mod, triple);
  LLVMDisposeMessage(triple);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(mod, td);
  LLVMDisposeTargetData(td);
  if (dump_before) dump(dump_before, mod);
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, opt_level >= 2);
  LLVMPassBuilderOptionsSetSLPVectorization(po, opt_level >= 2);
  /* no unrolling: it multiplies compile time by ~3.5 (fully unrolled
   * epilogues) and measured no faster; the GEMM is register-blocked by hand */
  LLVMPassBuilderOptionsSetLoopUnrolling(po, 0);
  char passes[32];
  snprintf(passes, sizeof passes, "default<O%d>", opt_level);
  LLVMErrorRef e = LLVMRunPasses(mod, passes, tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (e) {
    char *msg = LLVMGetErrorMessage(e);
    snprintf(err, errlen, "optimization failed: %s", msg);
    LLVMDisposeErrorMessage(msg);
    return false;
  }
  if (dump_after) dump(dump_after, mod);
  return true;
}
