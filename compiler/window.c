/* window: code for the sliding-window ops (docs/ir.md: conv2d and its
 * adjoints, the pools and theirs).
 *
 * Pools are members of elementwise groups: at each point of their output
 * they scan their window (or, for an unpool, the windows covering the
 * point) with the window unrolled, reading their sources through their
 * views; a position outside the input takes no part.  Sums run in the
 * evaluator's order (an unpool's windows in increasing output position).
 *
 * Convolutions are producers of their own groups (FG_CONV), like matrix
 * products: each unit of the schedule computes whole output planes into its
 * scratch, then the group's elementwise epilogue (bias, activation, an
 * optimizer update) runs over them, then a conv2d's pool (fuse.h) over the
 * planes the epilogue just stored.  Every output element is summed by one
 * unit in one fixed order, whatever the thread count.
 */
#include "codegen.h"

#include <math.h>

static LLVMValueRef i64c(Cg *cg, int64_t v) { return cg_i64(cg, v); }
static LLVMValueRef add(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef sub(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSub(cg->b, a, b, ""); }
static LLVMValueRef mul(Cg *cg, LLVMValueRef a, int64_t k) { return LLVMBuildMul(cg->b, a, i64c(cg, k), ""); }
static LLVMValueRef icmp(Cg *cg, LLVMIntPredicate p, LLVMValueRef a, int64_t k) {
  return LLVMBuildICmp(cg->b, p, a, i64c(cg, k), "");
}
static LLVMValueRef and2(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAnd(cg->b, a, b, ""); }
static LLVMValueRef sel(Cg *cg, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(cg->b, c, a, b, "");
}
static LLVMValueRef fmadd(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  return cg_call_intrinsic(cg, "llvm.fmuladd", &cg->f32, 1, args, 3);
}
static LLVMValueRef fmadd_vec(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  return cg_call_intrinsic(cg, "llvm.fmuladd", &cg->vec, 1, args, 3);
}

/* ---- pools ---- */

/* A pool evaluated at one point: the input side is [B, C, H, W]. */
typedef struct {
  const IrNode *u;             /* the pool op */
  const IrNode *a;             /* its first source */
  int H, W, OH, OW;            /* input and output positions */
  LLVMValueRef bc[2];          /* batch and channel coordinates */
  bool inside;                 /* every window lies inside the input (no padding reached) */
} Pool;

/* Source s at (b, c, h, w): *inside says whether (h, w) is in the input; a
 * position outside loads a clamped one and gives `fill`. */
static LLVMValueRef tap(Cg *cg, const Pool *P, const IrNode *s, LLVMValueRef h, LLVMValueRef w, double fill,
                        LLVMValueRef *inside) {
  if (P->inside) {
    *inside = LLVMConstInt(LLVMInt1TypeInContext(cg->ctx), 1, 0);
    return cg_load_at(cg, s, (LLVMValueRef[]){P->bc[0], P->bc[1], h, w});
  }
  LLVMValueRef in_h = and2(cg, icmp(cg, LLVMIntSGE, h, 0), icmp(cg, LLVMIntSLT, h, P->H));
  LLVMValueRef in_w = and2(cg, icmp(cg, LLVMIntSGE, w, 0), icmp(cg, LLVMIntSLT, w, P->W));
  *inside = and2(cg, in_h, in_w);
  LLVMValueRef co[4] = {P->bc[0], P->bc[1], cg_smin(cg, cg_smax(cg, h, i64c(cg, 0)), i64c(cg, P->H - 1)),
                        cg_smin(cg, cg_smax(cg, w, i64c(cg, 0)), i64c(cg, P->W - 1))};
  return sel(cg, *inside, cg_load_at(cg, s, co), cg_f32(cg, fill));
}

/* The window whose top left tap is at (top, left): the index of its first
 * maximum of a (the first tap inside, unless a later one is larger or NaN),
 * and v's value there when v is given. */
static LLVMValueRef argmax(Cg *cg, const Pool *P, LLVMValueRef top, LLVMValueRef left, const IrNode *v,
                           LLVMValueRef *vbest) {
  const IrWindow *w = &P->u->win;
  LLVMValueRef best = cg_f32(cg, -INFINITY), k = LLVMConstInt(cg->i32, (unsigned long long)-1, 1);
  *vbest = cg_f32(cg, 0);
  for (int p = 0; p < w->size[0]; p++)
    for (int q = 0; q < w->size[1]; q++) {
      LLVMValueRef inside, h = add(cg, top, i64c(cg, p)), x = add(cg, left, i64c(cg, q));
      LLVMValueRef val = tap(cg, P, P->a, h, x, -INFINITY, &inside);
      LLVMValueRef better = LLVMBuildOr(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, val, best, ""),
                                        LLVMBuildFCmp(cg->b, LLVMRealUNO, val, val, ""), "");
      LLVMValueRef first = LLVMBuildICmp(cg->b, LLVMIntSLT, k, LLVMConstInt(cg->i32, 0, 0), "");
      LLVMValueRef take = and2(cg, inside, LLVMBuildOr(cg->b, first, better, ""));
      best = sel(cg, take, val, best);
      k = sel(cg, take, LLVMConstInt(cg->i32, (unsigned long long)(p * w->size[1] + q), 0), k);
      if (v) {
        LLVMValueRef vin, vv = v == P->a ? val : tap(cg, P, v, h, x, 0, &vin);
        *vbest = sel(cg, take, vv, *vbest);
      }
    }
  return k;
}

/* The pools: the window at (i, j) = the point's last two coordinates. */
static LLVMValueRef pool_value(Cg *cg, const Pool *P, LLVMValueRef i, LLVMValueRef j) {
  const IrWindow *w = &P->u->win;
  LLVMValueRef top = sub(cg, mul(cg, i, w->stride[0]), i64c(cg, w->pad[0]));
  LLVMValueRef left = sub(cg, mul(cg, j, w->stride[1]), i64c(cg, w->pad[1]));
  if (P->u->op == OP_MAX_POOL2D) {
    LLVMValueRef v;
    argmax(cg, P, top, left, P->u->src[1], &v);
    return v;
  }
  LLVMValueRef sum = cg_f32(cg, 0), inv = cg_f32(cg, 1.0 / (w->size[0] * w->size[1]));
  for (int p = 0; p < w->size[0]; p++)
    for (int q = 0; q < w->size[1]; q++) {
      LLVMValueRef inside;
      LLVMValueRef a = tap(cg, P, P->a, add(cg, top, i64c(cg, p)), add(cg, left, i64c(cg, q)), 0, &inside);
      sum = fmadd(cg, a, inv, sum);
    }
  return sum;
}

/* Output position (*o) of the window whose tap t (of `size`, with `stride`
 * and padding `pad`) lands on input position x, and whether that window
 * exists among n of them. */
static LLVMValueRef window_of_tap(Cg *cg, LLVMValueRef x, int t, int stride, int pad, int n, LLVMValueRef *o) {
  LLVMValueRef num = add(cg, x, i64c(cg, pad - t));
  LLVMValueRef ok = icmp(cg, LLVMIntSGE, num, 0);
  LLVMValueRef safe = cg_smax(cg, num, i64c(cg, 0));
  if (stride > 1) ok = and2(cg, ok, icmp(cg, LLVMIntEQ, LLVMBuildURem(cg->b, safe, i64c(cg, stride), ""), 0));
  LLVMValueRef q = stride > 1 ? LLVMBuildUDiv(cg->b, safe, i64c(cg, stride), "") : safe;
  *o = cg_smin(cg, q, i64c(cg, n - 1));
  return and2(cg, ok, icmp(cg, LLVMIntSLT, q, n));
}

/* The unpools at input position (h, x): over the windows covering it, in
 * increasing output position, the gradient of each window that gives it
 * (every window for the average, the window's first maximum for the max). */
static LLVMValueRef unpool_value(Cg *cg, const Pool *P, LLVMValueRef h, LLVMValueRef x) {
  const IrWindow *w = &P->u->win;
  bool max = P->u->op == OP_MAX_UNPOOL2D;
  const IrNode *g = P->u->src[max ? 1 : 0];
  LLVMValueRef sum = cg_f32(cg, 0), inv = cg_f32(cg, max ? 1.0 : 1.0 / (w->size[0] * w->size[1]));
  for (int p = w->size[0] - 1; p >= 0; p--)
    for (int q = w->size[1] - 1; q >= 0; q--) {
      LLVMValueRef oi, oj, none;
      LLVMValueRef ok = and2(cg, window_of_tap(cg, h, p, w->stride[0], w->pad[0], P->OH, &oi),
                             window_of_tap(cg, x, q, w->stride[1], w->pad[1], P->OW, &oj));
      if (max) {
        LLVMValueRef k = argmax(cg, P, sub(cg, h, i64c(cg, p)), sub(cg, x, i64c(cg, q)), NULL, &none);
        ok = and2(cg, ok, LLVMBuildICmp(cg->b, LLVMIntEQ, k,
                                        LLVMConstInt(cg->i32, (unsigned long long)(p * w->size[1] + q), 0), ""));
      }
      LLVMValueRef co[4] = {P->bc[0], P->bc[1], oi, oj};
      sum = sel(cg, ok, fmadd(cg, cg_load_at(cg, g, co), inv, sum), sum);
    }
  return sum;
}

/* The unpools when windows do not overlap (stride >= size on both axes,
 * the usual 2x2 pool): input position (h, x) lies in at most one window,
 * found by division, whose first maximum is found once. */
static LLVMValueRef unpool_disjoint(Cg *cg, const Pool *P, LLVMValueRef h, LLVMValueRef x) {
  const IrWindow *w = &P->u->win;
  bool max = P->u->op == OP_MAX_UNPOOL2D;
  LLVMValueRef pos[2] = {h, x}, o[2], t[2], ok = NULL;
  int n[2] = {P->OH, P->OW};
  for (int a = 0; a < 2; a++) {
    LLVMValueRef num = add(cg, pos[a], i64c(cg, w->pad[a]));
    LLVMValueRef q = LLVMBuildUDiv(cg->b, num, i64c(cg, w->stride[a]), "");
    t[a] = sub(cg, num, mul(cg, q, w->stride[a]));
    LLVMValueRef in = and2(cg, icmp(cg, LLVMIntSLT, t[a], w->size[a]), icmp(cg, LLVMIntSLT, q, n[a]));
    ok = ok ? and2(cg, ok, in) : in;
    o[a] = cg_smin(cg, q, i64c(cg, n[a] - 1));
  }
  if (max) {
    LLVMValueRef none, top = sub(cg, mul(cg, o[0], w->stride[0]), i64c(cg, w->pad[0]));
    LLVMValueRef left = sub(cg, mul(cg, o[1], w->stride[1]), i64c(cg, w->pad[1]));
    LLVMValueRef k = argmax(cg, P, top, left, NULL, &none);
    LLVMValueRef tap = LLVMBuildTrunc(cg->b, add(cg, mul(cg, t[0], w->size[1]), t[1]), cg->i32, "");
    ok = and2(cg, ok, LLVMBuildICmp(cg->b, LLVMIntEQ, k, tap, ""));
  }
  LLVMValueRef co[4] = {P->bc[0], P->bc[1], o[0], o[1]};
  LLVMValueRef g = cg_load_at(cg, P->u->src[max ? 1 : 0], co);
  if (!max) g = LLVMBuildFMul(cg->b, g, cg_f32(cg, 1.0 / (w->size[0] * w->size[1])), "");
  return sel(cg, ok, g, cg_f32(cg, 0));
}

LLVMValueRef window_member(Cg *cg, const IrNode *u, const CgPoint *p) {
  const int *map = cg->fp->node[u->id].map;
  LLVMValueRef co[4];
  for (int k = 0; k < 4; k++) co[k] = map[k] >= 0 ? cg_coord(cg, p, map[k]) : i64c(cg, 0);
  bool unpool = u->op == OP_MAX_UNPOOL2D || u->op == OP_AVG_UNPOOL2D;
  Shape x = unpool ? u->shape : u->src[0]->shape, y = unpool ? u->src[u->nsrc - 1]->shape : u->shape;
  Pool P = {u, u->src[0], x.dim[2], x.dim[3], y.dim[2], y.dim[3], {co[0], co[1]}, true};
  for (int a = 0; a < 2; a++)
    P.inside = P.inside && u->win.pad[a] == 0 &&
               (int64_t)(y.dim[2 + a] - 1) * u->win.stride[a] + u->win.size[a] <= x.dim[2 + a];
  if (u->op == OP_MAX_POOL2D || u->op == OP_AVG_POOL2D) return pool_value(cg, &P, co[2], co[3]);
  bool disjoint = u->win.stride[0] >= u->win.size[0] && u->win.stride[1] >= u->win.size[1];
  if (unpool && disjoint) return unpool_disjoint(cg, &P, co[2], co[3]);
  P.inside = false;   /* it also visits windows that do not exist */
  if (unpool) return unpool_value(cg, &P, co[2], co[3]);
  die("codegen: %s is not computed at a point", op_info[u->op].name);
}

/* ---- convolutions: direct loops ---- */

/* The geometry of a convolution node: the input side [B, C, H, W], the
 * output side [B, O, OH, OW], the filter [O, Cg, KH, KW]. */
typedef struct {
  const IrNode *n;             /* the convolution */
  const IrWindow *w;           /* its window */
  int B, C, H, W, O, OH, OW, KH, KW, Cg, Og;
  const IrNode *x, *y, *f;     /* the sources: input, output-side gradient, filter (NULL: the result) */
} Conv;

static Conv conv_of(const IrNode *n) {
  Conv c = {.n = n, .w = &n->win};
  Shape xs, ys;
  if (n->op == OP_CONV2D) xs = n->src[0]->shape, ys = n->shape, c.x = n->src[0], c.f = n->src[1];
  else if (n->op == OP_CONV2D_DATA) xs = n->shape, ys = n->src[0]->shape, c.y = n->src[0], c.f = n->src[1];
  else xs = n->src[0]->shape, ys = n->src[1]->shape, c.x = n->src[0], c.y = n->src[1];
  c.B = xs.dim[0], c.C = xs.dim[1], c.H = xs.dim[2], c.W = xs.dim[3];
  c.O = ys.dim[1], c.OH = ys.dim[2], c.OW = ys.dim[3];
  c.KH = n->win.size[0], c.KW = n->win.size[1];
  c.Cg = c.C / n->win.groups, c.Og = c.O / n->win.groups;
  return c;
}

/* The output positions [lo, hi) along axis a whose tap t lands inside the input. */
static void tap_range(Cg *cg, const Conv *c, int a, LLVMValueRef t, LLVMValueRef *lo, LLVMValueRef *hi) {
  int s = c->w->stride[a], pad = c->w->pad[a], d = c->w->dilation[a], n = a ? c->W : c->H, out = a ? c->OW : c->OH;
  LLVMValueRef td = mul(cg, t, d);
  LLVMValueRef first = sub(cg, i64c(cg, pad), td);   /* o*s >= pad - t*d */
  LLVMValueRef up = LLVMBuildSDiv(cg->b, add(cg, cg_smax(cg, first, i64c(cg, 0)), i64c(cg, s - 1)), i64c(cg, s), "");
  *lo = up;
  LLVMValueRef last = sub(cg, i64c(cg, n - 1 + pad), td);   /* o*s <= n - 1 + pad - t*d */
  LLVMValueRef count = add(cg, LLVMBuildSDiv(cg->b, cg_smax(cg, last, i64c(cg, 0)), i64c(cg, s), ""), i64c(cg, 1));
  *hi = sel(cg, icmp(cg, LLVMIntSLT, last, 0), i64c(cg, 0), cg_smin(cg, count, i64c(cg, out)));
}

/* The input position of output position o under tap t along axis a. */
static LLVMValueRef in_pos(Cg *cg, const Conv *c, int a, LLVMValueRef o, LLVMValueRef t) {
  return add(cg, sub(cg, mul(cg, o, c->w->stride[a]), i64c(cg, c->w->pad[a])), mul(cg, t, c->w->dilation[a]));
}

static LLVMValueRef filter_at(Cg *cg, const Conv *c, LLVMValueRef o, LLVMValueRef ci, LLVMValueRef p, LLVMValueRef q) {
  LLVMValueRef co[4] = {o, ci, p, q};
  return cg_load_at(cg, c->f, co);
}

/* plane[k] = 0 for k < n */
static void zero(Cg *cg, LLVMValueRef plane, int64_t n) {
  CgLoop l;
  LLVMValueRef k = cg_loop_begin(cg, &l, i64c(cg, 0), i64c(cg, n), i64c(cg, 1));
  cg_store(cg, plane, k, cg_f32(cg, 0));
  cg_loop_end(cg, &l);
}

/* The epilogue over unit u's outputs, the scratch plane holding them
 * contiguously, in the schedule's loops over the space's other axes. */
static void epilogue(Cg *cg, const Conv *c, LLVMValueRef u, LLVMValueRef plane) {
  const LoopNest *L = &cg->step->loops;
  CgLoop l[IR_MAX_DIMS];
  CgPoint p = {1, {u}, {0}};
  for (int k = 0; k < L->n; k++, p.n++)
    p.idx[p.n] = cg_loop_begin(cg, &l[k], i64c(cg, 0), i64c(cg, L->size[k]), i64c(cg, 1)), p.dim[p.n] = L->hi[k];
  int64_t st[IR_MAX_DIMS];
  fuse_contig_strides(c->n->shape, st);
  st[0] = 0;
  cg->mm = c->n;
  cg->mm_value = cg_load(cg, plane, cg_offset(cg, &p, st));
  cg_eval_store(cg, &p);
  for (int k = L->n - 1; k >= 0; k--) cg_loop_end(cg, &l[k]);
}

/* conv2d of image b: plane[o][i][j] += w[o,c,p,q] * x[b, c of o's group, ...],
 * summed over c, p, q in that order. */
static void forward_image(Cg *cg, const Conv *c, LLVMValueRef b, LLVMValueRef plane) {
  zero(cg, plane, (int64_t)c->O * c->OH * c->OW);
  CgLoop lo, lc, lp, lq;
  CgRange ri, rj;
  LLVMValueRef o = cg_loop_begin(cg, &lo, i64c(cg, 0), i64c(cg, c->O), i64c(cg, 1));
  LLVMValueRef c0 = mul(cg, LLVMBuildUDiv(cg->b, o, i64c(cg, c->Og), ""), c->Cg);
  LLVMValueRef ci = cg_loop_begin(cg, &lc, i64c(cg, 0), i64c(cg, c->Cg), i64c(cg, 1));
  LLVMValueRef p = cg_loop_begin(cg, &lp, i64c(cg, 0), i64c(cg, c->KH), i64c(cg, 1));
  LLVMValueRef ilo, ihi, jlo, jhi;
  tap_range(cg, c, 0, p, &ilo, &ihi);
  LLVMValueRef q = cg_loop_begin(cg, &lq, i64c(cg, 0), i64c(cg, c->KW), i64c(cg, 1));
  tap_range(cg, c, 1, q, &jlo, &jhi);
  LLVMValueRef wv = filter_at(cg, c, o, ci, p, q);
  LLVMValueRef i = cg_range_begin(cg, &ri, ilo, ihi);
  LLVMValueRef row = mul(cg, add(cg, mul(cg, o, c->OH), i), c->OW);
  LLVMValueRef h = in_pos(cg, c, 0, i, p);
  LLVMValueRef j = cg_range_begin(cg, &rj, jlo, jhi);
  LLVMValueRef xco[4] = {b, add(cg, c0, ci), h, in_pos(cg, c, 1, j, q)};
  LLVMValueRef at = add(cg, row, j);
  cg_store(cg, plane, at, fmadd(cg, wv, cg_load_at(cg, c->x, xco), cg_load(cg, plane, at)));
  cg_range_end(cg, &rj);
  cg_range_end(cg, &ri);
  cg_loop_end(cg, &lq);
  cg_loop_end(cg, &lp);
  cg_loop_end(cg, &lc);
  cg_loop_end(cg, &lo);
}

/* conv2d_data of image b: plane[ch][h][x] += w[o,c,p,q] * g[b,o,i,j] for the
 * outputs o of ch's group, summed over o, p, q in that order. */
static void data_image(Cg *cg, const Conv *c, LLVMValueRef b, LLVMValueRef plane) {
  zero(cg, plane, (int64_t)c->C * c->H * c->W);
  CgLoop lch, lo, lp, lq;
  CgRange ri, rj;
  LLVMValueRef ch = cg_loop_begin(cg, &lch, i64c(cg, 0), i64c(cg, c->C), i64c(cg, 1));
  LLVMValueRef grp = LLVMBuildUDiv(cg->b, ch, i64c(cg, c->Cg), "");
  LLVMValueRef ci = sub(cg, ch, mul(cg, grp, c->Cg));
  LLVMValueRef oo = cg_loop_begin(cg, &lo, i64c(cg, 0), i64c(cg, c->Og), i64c(cg, 1));
  LLVMValueRef o = add(cg, mul(cg, grp, c->Og), oo);
  LLVMValueRef p = cg_loop_begin(cg, &lp, i64c(cg, 0), i64c(cg, c->KH), i64c(cg, 1));
  LLVMValueRef ilo, ihi, jlo, jhi;
  tap_range(cg, c, 0, p, &ilo, &ihi);
  LLVMValueRef q = cg_loop_begin(cg, &lq, i64c(cg, 0), i64c(cg, c->KW), i64c(cg, 1));
  tap_range(cg, c, 1, q, &jlo, &jhi);
  LLVMValueRef wv = filter_at(cg, c, o, ci, p, q);
  LLVMValueRef i = cg_range_begin(cg, &ri, ilo, ihi);
  LLVMValueRef row = mul(cg, add(cg, mul(cg, ch, c->H), in_pos(cg, c, 0, i, p)), c->W);
  LLVMValueRef j = cg_range_begin(cg, &rj, jlo, jhi);
  LLVMValueRef gco[4] = {b, o, i, j};
  LLVMValueRef at = add(cg, row, in_pos(cg, c, 1, j, q));
  cg_store(cg, plane, at, fmadd(cg, wv, cg_load_at(cg, c->y, gco), cg_load(cg, plane, at)));
  cg_range_end(cg, &rj);
  cg_range_end(cg, &ri);
  cg_loop_end(cg, &lq);
  cg_loop_end(cg, &lp);
  cg_loop_end(cg, &lo);
  cg_loop_end(cg, &lch);
}

/* conv2d_filter of output channel o: plane[c][p][q] = the sum over images
 * and positions of x[b, c of o's group, ...] * g[b, o, i, j], accumulated in
 * acc (an entry-block slot, so it lives in a register). */
static void filter_channel(Cg *cg, const Conv *c, LLVMValueRef o, LLVMValueRef plane, LLVMValueRef acc) {
  CgLoop lc, lp, lq, lb;
  CgRange ri, rj;
  LLVMValueRef c0 = mul(cg, LLVMBuildUDiv(cg->b, o, i64c(cg, c->Og), ""), c->Cg);
  LLVMValueRef ci = cg_loop_begin(cg, &lc, i64c(cg, 0), i64c(cg, c->Cg), i64c(cg, 1));
  LLVMValueRef p = cg_loop_begin(cg, &lp, i64c(cg, 0), i64c(cg, c->KH), i64c(cg, 1));
  LLVMValueRef ilo, ihi, jlo, jhi;
  tap_range(cg, c, 0, p, &ilo, &ihi);
  LLVMValueRef q = cg_loop_begin(cg, &lq, i64c(cg, 0), i64c(cg, c->KW), i64c(cg, 1));
  tap_range(cg, c, 1, q, &jlo, &jhi);
  LLVMBuildStore(cg->b, cg_f32(cg, 0), acc);
  LLVMValueRef b = cg_loop_begin(cg, &lb, i64c(cg, 0), i64c(cg, c->B), i64c(cg, 1));
  LLVMValueRef i = cg_range_begin(cg, &ri, ilo, ihi);
  LLVMValueRef h = in_pos(cg, c, 0, i, p);
  LLVMValueRef j = cg_range_begin(cg, &rj, jlo, jhi);
  LLVMValueRef xco[4] = {b, add(cg, c0, ci), h, in_pos(cg, c, 1, j, q)}, gco[4] = {b, o, i, j};
  LLVMValueRef sum = fmadd(cg, cg_load_at(cg, c->x, xco), cg_load_at(cg, c->y, gco),
                           LLVMBuildLoad2(cg->b, cg->f32, acc, ""));
  LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc);   /* a sum the vectorizer may split into lanes */
  LLVMBuildStore(cg->b, sum, acc);
  cg_range_end(cg, &rj);
  cg_range_end(cg, &ri);
  cg_loop_end(cg, &lb);
  LLVMValueRef at = add(cg, mul(cg, add(cg, mul(cg, ci, c->KH), p), c->KW), q);
  cg_store(cg, plane, at, LLVMBuildLoad2(cg->b, cg->f32, acc, ""));
  cg_loop_end(cg, &lq);
  cg_loop_end(cg, &lp);
  cg_loop_end(cg, &lc);
}

/* ---- convolutions: register tiles (CONV_TILED) ---- */

enum { MAX_ACC = 64 };   /* accumulators of a tile at most (the schedule keeps within the registers) */

static LLVMTypeRef ivec(Cg *cg, int vw) { return LLVMVectorType(cg->i32, (unsigned)vw); }

static LLVMValueRef ivec_const(Cg *cg, int vw, const int *v) {
  LLVMValueRef e[64];
  for (int l = 0; l < vw; l++) e[l] = LLVMConstInt(cg->i32, (unsigned long long)(int64_t)v[l], 1);
  return LLVMConstVector(e, (unsigned)vw);
}

/* x in every lane of a vector of type vt (vw lanes). */
static LLVMValueRef splat_of(Cg *cg, LLVMValueRef x, LLVMTypeRef vt, int vw) {
  LLVMValueRef v = LLVMBuildInsertElement(cg->b, LLVMGetPoison(vt), x, i64c(cg, 0), "");
  return LLVMBuildShuffleVector(cg->b, v, LLVMGetPoison(vt), LLVMConstNull(ivec(cg, vw)), "");
}

/* Lanes lo <= l < hi of a vector (compile-time), and'ed with the i1 `on`. */
static LLVMValueRef lane_mask(Cg *cg, int vw, int lo, int hi, LLVMValueRef on) {
  LLVMValueRef m = cg_lane_mask(cg, vw, lo, hi);
  return on ? and2(cg, m, splat_of(cg, on, LLVMVectorType(LLVMInt1TypeInContext(cg->ctx), (unsigned)vw), vw)) : m;
}

/* A vector at ptr + off, lanes outside mask 0 (and never touched). */
static LLVMValueRef vload_at(Cg *cg, LLVMValueRef ptr, LLVMValueRef off, LLVMValueRef mask) {
  return cg_masked_load(cg, LLVMBuildGEP2(cg->b, cg->f32, ptr, &off, 1, ""), mask);
}

static LLVMValueRef vload(Cg *cg, LLVMValueRef ptr, int off, LLVMValueRef mask) {
  return vload_at(cg, ptr, i64c(cg, off), mask);
}

static void vstore(Cg *cg, LLVMValueRef v, LLVMValueRef ptr, LLVMValueRef mask) {
  LLVMValueRef args[4] = {v, ptr, LLVMConstInt(cg->i32, 4, 0), mask};
  LLVMTypeRef over[2] = {cg->vec, cg->ptr};
  cg_call_intrinsic(cg, "llvm.masked.store", over, 2, args, 4);
}

static LLVMValueRef splat(Cg *cg, LLVMValueRef x, int vw) {
  LLVMValueRef v = LLVMBuildInsertElement(cg->b, LLVMGetPoison(cg->vec), x, i64c(cg, 0), "");
  return LLVMBuildShuffleVector(cg->b, v, LLVMGetPoison(cg->vec), LLVMConstNull(LLVMVectorType(cg->i32, (unsigned)vw)),
                                "");
}

/* Row (b, ch, h) of source s, column 0 (h may lie outside: then never read). */
static LLVMValueRef row_ptr(Cg *cg, const IrNode *s, LLVMValueRef b, LLVMValueRef ch, LLVMValueRef h) {
  CgPoint p = {3, {b, ch, h}, {0, 1, 2}};
  LLVMValueRef off = cg_offset(cg, &p, cg->fp->node[s->id].stride);
  return LLVMBuildGEP2(cg->b, cg->f32, cg->bufptr[plan_buf_of_view(cg->mp, s)], &off, 1, "");
}

/* acc[k] += a * b, the accumulators being entry-block slots (registers after SROA). */
static void acc_fma(Cg *cg, LLVMValueRef slot, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuildStore(cg->b, fmadd_vec(cg, a, b, LLVMBuildLoad2(cg->b, cg->vec, slot, "")), slot);
}

/* The output rows [lo, hi) whose every tap's input row lies inside the
 * input (s: stride, pad, d: dilation along it); the rows before and after
 * test each tap's row, the ones between need no test (a runtime lane mask
 * costs mask instructions on the ports the multiply-adds use). */
typedef struct { int lo, hi; } Interior;

static Interior interior_rows(int out, int in, int k, int s, int pad, int d) {
  int lo = (pad + s - 1) / s, last = in - 1 + pad - (k - 1) * d;
  if (lo > out) lo = out;
  int hi = last < 0 ? lo : last / s + 1;
  return (Interior){lo, hi < lo ? lo : hi > out ? out : hi};
}

/* Loops i over [0, out) in the three parts of r, calling body(i, check)
 * with check false in the interior; i increases, so sums keep their order. */
typedef void RowBody(Cg *cg, LLVMValueRef i, bool check, const void *ctx);

static void rows_in_parts(Cg *cg, int out, Interior r, RowBody *body, const void *ctx) {
  int from[3] = {0, r.lo, r.hi}, to[3] = {r.lo, r.hi, out};
  for (int k = 0; k < 3; k++) {
    if (from[k] >= to[k]) continue;
    CgLoop l;
    LLVMValueRef i = cg_loop_begin(cg, &l, i64c(cg, from[k]), i64c(cg, to[k]), i64c(cg, 1));
    body(cg, i, k != 1, ctx);
    cg_loop_end(cg, &l);
  }
}

/* Whether input row h exists, or NULL (known to) when not checked. */
static LLVMValueRef row_inside(Cg *cg, LLVMValueRef h, int n, bool check) {
  return check ? and2(cg, icmp(cg, LLVMIntSGE, h, 0), icmp(cg, LLVMIntSLT, h, n)) : NULL;
}

/* conv2d, and conv2d_data as a convolution of g with the transposed,
 * flipped filter: out[oc, i, j] = sum over ic, p, q of
 * W(oc, ic, p, q) * in[b, grp*IC + ic, i*s0 - pad0 + p*d0, j - pad1 + q*d1]. */
typedef struct {
  const Conv *c;
  const ConvSchedule *cs;
  bool data;                   /* conv2d_data: W(oc, ic, p, q) = w[grp*IC + ic, oc - grp*OG, KH-1-p, KW-1-q] */
  const IrNode *in;            /* x, or g */
  int IC, IH, IW, OH, OW, OG;  /* input channels per group, input and output planes, outputs per group */
  int s0, pad0, pad1, d0, d1;
  LLVMValueRef *acc;           /* the tile's accumulator slots */
} Tile;

static Tile tile_of(const Conv *c, const ConvSchedule *cs, LLVMValueRef *acc) {
  const IrWindow *w = c->w;
  if (c->n->op == OP_CONV2D)
    return (Tile){c, cs, false, c->x, c->Cg, c->H, c->W, c->OH, c->OW, c->Og, w->stride[0], w->pad[0], w->pad[1],
                  w->dilation[0], w->dilation[1], acc};
  return (Tile){c, cs, true, c->y, c->Og, c->OH, c->OW, c->H, c->W, c->Cg, 1, w->dilation[0] * (c->KH - 1) - w->pad[0],
                w->dilation[1] * (c->KW - 1) - w->pad[1], w->dilation[0], w->dilation[1], acc};
}

static LLVMValueRef tile_weight(Cg *cg, const Tile *T, LLVMValueRef grp, LLVMValueRef oc, LLVMValueRef ic, int p,
                                int q) {
  if (!T->data) return filter_at(cg, T->c, oc, ic, i64c(cg, p), i64c(cg, q));
  return filter_at(cg, T->c, add(cg, mul(cg, grp, T->IC), ic), sub(cg, oc, mul(cg, grp, T->OG)),
                   i64c(cg, T->c->KH - 1 - p), i64c(cg, T->c->KW - 1 - q));
}

/* The taps of input channel ic for `rows` outputs from oc0 and nv vectors
 * of output rows i0 .. i0 + nl from column j0; each broadcast filter value
 * feeds all nl x nv vectors. */
static void tile_taps(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef grp, LLVMValueRef oc0, int rows,
                      LLVMValueRef i0, int nl, LLVMValueRef ic, int j0, int nv) {
  int vw = T->cs->vw, n = nl * nv;
  LLVMValueRef chan = add(cg, mul(cg, grp, T->IC), ic);
  for (int p = 0; p < T->c->KH; p++) {
    LLVMValueRef row[4], inside[4];
    for (int l = 0; l < nl; l++) {
      LLVMValueRef h = add(cg, mul(cg, add(cg, i0, i64c(cg, l)), T->s0), i64c(cg, p * T->d0 - T->pad0));
      inside[l] = row_inside(cg, h, T->IH, true);
      row[l] = row_ptr(cg, T->in, b, chan, h);
    }
    for (int q = 0; q < T->c->KW; q++) {
      LLVMValueRef xv[16] = {NULL};
      for (int l = 0; l < nl; l++)
        for (int v = 0; v < nv; v++) {
          int col = j0 + v * vw + q * T->d1 - T->pad1, lo = col < 0 ? -col : 0;
          int hi = T->IW - col < T->OW - j0 - v * vw ? T->IW - col : T->OW - j0 - v * vw;
          if (hi > vw) hi = vw;
          if (hi > lo) xv[l * nv + v] = vload(cg, row[l], col, lane_mask(cg, vw, lo, hi, inside[l]));
        }
      for (int r = 0; r < rows; r++) {
        LLVMValueRef wv = NULL;
        for (int k = 0; k < n; k++) {
          if (!xv[k]) continue;
          if (!wv) wv = splat(cg, tile_weight(cg, T, grp, add(cg, oc0, i64c(cg, r)), ic, p, q), vw);
          acc_fma(cg, T->acc[r * n + k], wv, xv[k]);
        }
      }
    }
  }
}

/* Output channels oc0 .. oc0 + rows of image b, output rows i0 .. i0 + nl,
 * into plane. */
static void tile_lines(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef grp, LLVMValueRef oc0, int rows,
                       LLVMValueRef i0, int nl, LLVMValueRef plane) {
  int vw = T->cs->vw, step = T->cs->vectors * vw;
  CgLoop lc;
  for (int j0 = 0; j0 < T->OW; j0 += step) {
    int nv = (T->OW - j0 + vw - 1) / vw < T->cs->vectors ? (T->OW - j0 + vw - 1) / vw : T->cs->vectors;
    for (int k = 0; k < rows * nl * nv; k++) LLVMBuildStore(cg->b, LLVMConstNull(cg->vec), T->acc[k]);
    LLVMValueRef ic = cg_loop_begin(cg, &lc, i64c(cg, 0), i64c(cg, T->IC), i64c(cg, 1));
    tile_taps(cg, T, b, grp, oc0, rows, i0, nl, ic, j0, nv);
    cg_loop_end(cg, &lc);
    for (int r = 0; r < rows; r++)
      for (int l = 0; l < nl; l++)
        for (int v = 0; v < nv; v++) {
          LLVMValueRef i = add(cg, i0, i64c(cg, l));
          LLVMValueRef at = add(cg, mul(cg, add(cg, mul(cg, add(cg, oc0, i64c(cg, r)), T->OH), i), T->OW),
                                i64c(cg, j0 + v * vw));
          LLVMValueRef mask = lane_mask(cg, vw, 0, T->OW - j0 - v * vw, NULL);
          vstore(cg, LLVMBuildLoad2(cg->b, cg->vec, T->acc[(r * nl + l) * nv + v], ""),
                 LLVMBuildGEP2(cg->b, cg->f32, plane, &at, 1, ""), mask);
        }
  }
}

/* Output channels oc0 .. oc0 + rows of image b, the tile's lines of output
 * rows at a time and one shorter block for the rest, into plane. */
static void tile_block(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef grp, LLVMValueRef oc0, int rows,
                       LLVMValueRef plane) {
  int nl = T->cs->lines, full = T->OH / nl, rest = T->OH % nl;
  CgLoop li;
  LLVMValueRef k = cg_loop_begin(cg, &li, i64c(cg, 0), i64c(cg, full), i64c(cg, 1));
  tile_lines(cg, T, b, grp, oc0, rows, mul(cg, k, nl), nl, plane);
  cg_loop_end(cg, &li);
  if (rest > 0) tile_lines(cg, T, b, grp, oc0, rows, i64c(cg, full * nl), rest, plane);
}

/* Flat tiles (ConvSchedule.flat): the output plane as one row of OH*OW
 * points, a tile `vectors` vectors of it from point f0.  The input is as
 * wide as the output, its rows back to back, and walked with stride 1, so
 * tap (p, q) of point f reads input point f + (p*d0 - pad0)*IW + q*d1 - pad1
 * of the plane: one shifted load per vector, whose lanes are masked where
 * the tap's column or row falls outside the input.  (A lane past the
 * plane's end reads a point of the input plane, or nothing, and is not
 * stored.)  The masks depend on f0 and the tap, not on the input channel,
 * so they are made once per tile: a lane's column and row validity per tap
 * column and row. */
enum { FLAT_MAX_VECTORS = 4 };   /* a tile's vectors at most (the schedule's tiles have up to 4) */

typedef struct {
  LLVMValueRef col[CONV_FLAT_MAX_SIZE][FLAT_MAX_VECTORS], row[CONV_FLAT_MAX_SIZE][FLAT_MAX_VECTORS];
} FlatMasks;   /* [tap column or row][vector] */

/* The constant v in every lane of an i32 vector. */
static LLVMValueRef ivec_splat(Cg *cg, int vw, int v) {
  int e[64];
  for (int l = 0; l < vw; l++) e[l] = v;
  return ivec_const(cg, vw, e);
}

/* The masks of the tile of nv vectors from point f0: lane l of vector v is
 * point f = f0 + v*vw + l, at row f / OW and column f % OW of the plane. */
static void flat_masks(Cg *cg, const Tile *T, LLVMValueRef f0, int nv, FlatMasks *M) {
  int vw = T->cs->vw, iota[64];
  if (nv > FLAT_MAX_VECTORS) die("codegen: a flat convolution tile of %d vectors", nv);
  LLVMValueRef base = splat_of(cg, LLVMBuildTrunc(cg->b, f0, cg->i32, ""), ivec(cg, vw), vw);
  for (int v = 0; v < nv; v++) {
    for (int l = 0; l < vw; l++) iota[l] = v * vw + l;
    LLVMValueRef f = LLVMBuildAdd(cg->b, base, ivec_const(cg, vw, iota), "");
    LLVMValueRef col = LLVMBuildURem(cg->b, f, ivec_splat(cg, vw, T->OW), "");
    LLVMValueRef row = LLVMBuildUDiv(cg->b, f, ivec_splat(cg, vw, T->OW), "");
    for (int q = 0; q < T->c->KW; q++) {
      LLVMValueRef c = LLVMBuildAdd(cg->b, col, ivec_splat(cg, vw, q * T->d1 - T->pad1), "");
      M->col[q][v] = LLVMBuildICmp(cg->b, LLVMIntULT, c, ivec_splat(cg, vw, T->IW), "");
    }
    for (int p = 0; p < T->c->KH; p++) {
      LLVMValueRef r = LLVMBuildAdd(cg->b, row, ivec_splat(cg, vw, p * T->d0 - T->pad0), "");
      M->row[p][v] = LLVMBuildICmp(cg->b, LLVMIntULT, r, ivec_splat(cg, vw, T->IH), "");
    }
  }
}

/* The taps of input channel ic for `rows` outputs from oc0 and the flat
 * tile of nv vectors from point f0, in the order of tile_taps. */
static void flat_taps(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef grp, LLVMValueRef oc0, int rows,
                      LLVMValueRef ic, LLVMValueRef f0, int nv, const FlatMasks *M) {
  int vw = T->cs->vw;
  LLVMValueRef plane = row_ptr(cg, T->in, b, add(cg, mul(cg, grp, T->IC), ic), i64c(cg, 0));
  for (int p = 0; p < T->c->KH; p++)
    for (int q = 0; q < T->c->KW; q++) {
      LLVMValueRef xv[FLAT_MAX_VECTORS];
      int shift = (p * T->d0 - T->pad0) * T->IW + q * T->d1 - T->pad1;
      for (int v = 0; v < nv; v++)
        xv[v] = vload_at(cg, plane, add(cg, f0, i64c(cg, v * vw + shift)), and2(cg, M->row[p][v], M->col[q][v]));
      for (int r = 0; r < rows; r++) {
        LLVMValueRef wv = splat(cg, tile_weight(cg, T, grp, add(cg, oc0, i64c(cg, r)), ic, p, q), vw);
        for (int v = 0; v < nv; v++) acc_fma(cg, T->acc[r * nv + v], wv, xv[v]);
      }
    }
}

/* Output channels oc0 .. oc0 + rows of image b, nv vectors of their flat
 * planes from point f0 (the last vector may be cut by the plane's end), into plane. */
static void flat_tile(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef grp, LLVMValueRef oc0, int rows,
                      LLVMValueRef f0, int nv, LLVMValueRef plane) {
  int vw = T->cs->vw, total = T->OH * T->OW;
  FlatMasks M;
  flat_masks(cg, T, f0, nv, &M);
  for (int k = 0; k < rows * nv; k++) LLVMBuildStore(cg->b, LLVMConstNull(cg->vec), T->acc[k]);
  CgLoop lc;
  LLVMValueRef ic = cg_loop_begin(cg, &lc, i64c(cg, 0), i64c(cg, T->IC), i64c(cg, 1));
  flat_taps(cg, T, b, grp, oc0, rows, ic, f0, nv, &M);
  cg_loop_end(cg, &lc);
  LLVMValueRef left = splat_of(cg, LLVMBuildTrunc(cg->b, sub(cg, i64c(cg, total), f0), cg->i32, ""), ivec(cg, vw), vw);
  for (int v = 0; v < nv; v++) {
    int iota[64];
    for (int l = 0; l < vw; l++) iota[l] = v * vw + l;
    LLVMValueRef mask = LLVMBuildICmp(cg->b, LLVMIntSLT, ivec_const(cg, vw, iota), left, "");
    for (int r = 0; r < rows; r++) {
      LLVMValueRef at = add(cg, add(cg, mul(cg, add(cg, oc0, i64c(cg, r)), total), f0), i64c(cg, v * vw));
      LLVMValueRef sum = LLVMBuildLoad2(cg->b, cg->vec, T->acc[r * nv + v], "");
      vstore(cg, sum, LLVMBuildGEP2(cg->b, cg->f32, plane, &at, 1, ""), mask);
    }
  }
}

/* Output channels oc0 .. oc0 + rows of image b, flat tiles of the
 * schedule's vectors that lie inside the plane, then one for the rest. */
static void flat_block(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef grp, LLVMValueRef oc0, int rows,
                       LLVMValueRef plane) {
  int vw = T->cs->vw, nv = T->cs->vectors, total = T->OH * T->OW;
  int whole = total / vw, full = whole / nv, rest = (total + vw - 1) / vw - full * nv;
  CgLoop lk;
  LLVMValueRef k = cg_loop_begin(cg, &lk, i64c(cg, 0), i64c(cg, full), i64c(cg, 1));
  flat_tile(cg, T, b, grp, oc0, rows, mul(cg, k, nv * vw), nv, plane);
  cg_loop_end(cg, &lk);
  if (rest > 0) flat_tile(cg, T, b, grp, oc0, rows, i64c(cg, full * nv * vw), rest, plane);
}

/* Output channels oc0 .. oc0 + rows of image b into plane: tile_block or flat_block. */
typedef void BlockFn(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef grp, LLVMValueRef oc0, int rows,
                     LLVMValueRef plane);

/* Every output plane of image b: per group, blocks of the tile's rows of
 * output channels and one shorter block for the rest. */
static void tile_image(Cg *cg, const Tile *T, LLVMValueRef b, LLVMValueRef plane) {
  int rows = T->cs->rows, full = T->OG / rows, rest = T->OG % rows;
  BlockFn *block = T->cs->flat ? flat_block : tile_block;
  CgLoop lg, lb;
  LLVMValueRef grp = cg_loop_begin(cg, &lg, i64c(cg, 0), i64c(cg, T->c->w->groups), i64c(cg, 1));
  LLVMValueRef first = mul(cg, grp, T->OG);
  if (full > 0) {
    LLVMValueRef blk = cg_loop_begin(cg, &lb, i64c(cg, 0), i64c(cg, full), i64c(cg, 1));
    block(cg, T, b, grp, add(cg, first, mul(cg, blk, rows)), rows, plane);
    cg_loop_end(cg, &lb);
  }
  if (rest > 0) block(cg, T, b, grp, add(cg, first, i64c(cg, full * rows)), rest, plane);
  cg_loop_end(cg, &lg);
}

/* conv2d_filter of `rows` output channels from o0 (of one group): each
 * (filter, input channel, tap) a vector of sums over images, rows and
 * columns in acc[] of the scratch (plane: the sums; sums: those vectors),
 * reduced at the end into plane[r][ic][p][q].  Images run outermost, so
 * the unit streams each image's input planes once, contiguously, instead
 * of one plane of every image per input channel; a block of `chans` input
 * channels' vectors sits in registers over the rows of one image.  Each
 * vector of input loaded serves every filter. */
typedef struct {
  const Conv *c;
  const ConvSchedule *cs;
  LLVMValueRef b, o0, c0, ic0, *acc;
  int rows, n;
} FilterBlock;

/* Output row i of image b into the block's accumulators. */
static void filter_row(Cg *cg, LLVMValueRef i, bool check, const void *ctx) {
  const FilterBlock *F = ctx;
  const Conv *c = F->c;
  const IrWindow *w = c->w;
  int vw = F->cs->vw, taps = c->KH * c->KW;
  LLVMValueRef grow[MAX_ACC];
  for (int r = 0; r < F->rows; r++) grow[r] = row_ptr(cg, c->y, F->b, add(cg, F->o0, i64c(cg, r)), i);
  for (int j0 = 0; j0 < c->OW; j0 += vw) {
    LLVMValueRef gv[MAX_ACC];
    for (int r = 0; r < F->rows; r++) gv[r] = vload(cg, grow[r], j0, lane_mask(cg, vw, 0, c->OW - j0, NULL));
    for (int ch = 0; ch < F->n; ch++)
      for (int p = 0; p < c->KH; p++) {
        LLVMValueRef h = add(cg, mul(cg, i, w->stride[0]), i64c(cg, p * w->dilation[0] - w->pad[0]));
        LLVMValueRef inside = row_inside(cg, h, c->H, check);
        LLVMValueRef row = row_ptr(cg, c->x, F->b, add(cg, F->c0, add(cg, F->ic0, i64c(cg, ch))), h);
        for (int q = 0; q < c->KW; q++) {
          int col = j0 + q * w->dilation[1] - w->pad[1], lo = col < 0 ? -col : 0;
          int hi = c->W - col < c->OW - j0 ? c->W - col : c->OW - j0;
          if (hi > vw) hi = vw;
          if (hi <= lo) continue;
          LLVMValueRef xv = vload(cg, row, col, lane_mask(cg, vw, lo, hi, inside));
          for (int r = 0; r < F->rows; r++)
            acc_fma(cg, F->acc[(r * F->n + ch) * taps + p * c->KW + q], gv[r], xv);
        }
      }
  }
}

/* The vector of sums of filter r, input channel ic, tap t. */
static LLVMValueRef sums_at(Cg *cg, const Conv *c, LLVMValueRef sums, int r, LLVMValueRef ic, int t, int vw) {
  int taps = c->KH * c->KW;
  LLVMValueRef k = mul(cg, add(cg, mul(cg, ic, taps), i64c(cg, (r * c->Cg) * taps + t)), vw);
  return LLVMBuildGEP2(cg->b, cg->f32, sums, &k, 1, "");
}

/* Input channels ic0 .. ic0 + n of image b, added to their sums. */
static void filter_block(Cg *cg, FilterBlock *F, LLVMValueRef sums) {
  const Conv *c = F->c;
  const IrWindow *w = c->w;
  int taps = c->KH * c->KW, vw = F->cs->vw;
  for (int r = 0; r < F->rows; r++)
    for (int k = 0; k < F->n * taps; k++) {
      LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->vec, sums_at(cg, c, sums, r, F->ic0, k, vw), "");
      LLVMSetAlignment(v, 4);
      LLVMBuildStore(cg->b, v, F->acc[r * F->n * taps + k]);
    }
  rows_in_parts(cg, c->OH, interior_rows(c->OH, c->H, c->KH, w->stride[0], w->pad[0], w->dilation[0]), filter_row, F);
  for (int r = 0; r < F->rows; r++)
    for (int k = 0; k < F->n * taps; k++) {
      LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->vec, F->acc[r * F->n * taps + k], "");
      LLVMSetAlignment(LLVMBuildStore(cg->b, v, sums_at(cg, c, sums, r, F->ic0, k, vw)), 4);
    }
}

/* conv2d_filter of `rows` output channels from o0 into plane[r], then the
 * epilogue over each of their planes. */
static void filter_rows(Cg *cg, const Conv *c, const ConvSchedule *cs, LLVMValueRef o0, int rows, LLVMValueRef plane,
                        LLVMValueRef *acc) {
  int full = c->Cg / cs->chans, rest = c->Cg % cs->chans, vw = cs->vw;
  int64_t n = (int64_t)rows * c->Cg * c->KH * c->KW, at = (n + vw - 1) / vw * vw;
  LLVMValueRef sums = LLVMBuildGEP2(cg->b, cg->f32, plane, (LLVMValueRef[]){i64c(cg, at)}, 1, "");
  zero(cg, sums, n * vw);
  CgLoop lb, lk, lr;
  FilterBlock F = {c, cs, NULL, o0, mul(cg, LLVMBuildUDiv(cg->b, o0, i64c(cg, c->Og), ""), c->Cg), NULL, acc, rows, 0};
  F.b = cg_loop_begin(cg, &lb, i64c(cg, 0), i64c(cg, c->B), i64c(cg, 1));
  if (full > 0) {
    LLVMValueRef k = cg_loop_begin(cg, &lk, i64c(cg, 0), i64c(cg, full), i64c(cg, 1));
    F.ic0 = mul(cg, k, cs->chans), F.n = cs->chans;
    filter_block(cg, &F, sums);
    cg_loop_end(cg, &lk);
  }
  if (rest > 0) F.ic0 = i64c(cg, full * cs->chans), F.n = rest, filter_block(cg, &F, sums);
  cg_loop_end(cg, &lb);
  LLVMValueRef k = cg_loop_begin(cg, &lr, i64c(cg, 0), i64c(cg, n), i64c(cg, 1));
  LLVMValueRef kv = mul(cg, k, vw);
  LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->vec, LLVMBuildGEP2(cg->b, cg->f32, sums, &kv, 1, ""), "");
  LLVMSetAlignment(v, 4);
  LLVMValueRef args[2] = {cg_f32(cg, -0.0), v};
  LLVMValueRef sum = cg_call_intrinsic(cg, "llvm.vector.reduce.fadd", &cg->vec, 1, args, 2);
  LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc);
  cg_store(cg, plane, k, sum);
  cg_loop_end(cg, &lr);
  for (int r = 0; r < rows; r++) {
    LLVMValueRef off = i64c(cg, (int64_t)r * c->Cg * c->KH * c->KW);
    epilogue(cg, c, add(cg, o0, i64c(cg, r)), LLVMBuildGEP2(cg->b, cg->f32, plane, &off, 1, ""));
  }
}

/* ---- conv2d_filter with filters in the lanes (CONV_LANES) ---- */

/* nf filters from o0 (one group) of a unit: per image, the gradient planes
 * are transposed into gt[position][filter] (lanes past nf stay 0) and the
 * input planes copied into the zero-padded xp; then per input channel a
 * tile of the unit's vectors of filters by the channel's taps is summed in
 * registers over the positions, each input value broadcast, and added to
 * sums[channel][tap][filter].  Every sum runs over images, rows and
 * columns in order, whatever the unit. */
typedef struct {
  const Conv *c;
  const ConvSchedule *cs;
  int nf, lanes;                      /* filters of the unit; lanes of its vectors */
  LLVMValueRef o0, b, sums, gt, xp, *acc;
} Lanes;

static LLVMValueRef at_float(Cg *cg, LLVMValueRef base, LLVMValueRef k) {
  return LLVMBuildGEP2(cg->b, cg->f32, base, &k, 1, "");
}

/* Positions p0 .. p0 + n - 1 (n <= vw) of filters r0 .. r0 + vw - 1 into
 * gt: a vw x vw block loaded a filter to a vector (filters past nf read as
 * 0), transposed in registers by log2(vw) rounds of two-vector shuffles (a
 * round of step s swaps the off-diagonal s x s sub-blocks of each 2s x 2s
 * block), and stored a position to a vector. */
static void transpose_block(Cg *cg, const Lanes *L, LLVMValueRef *plane, int r0, LLVMValueRef p0, int n) {
  int vw = L->cs->vw, lo[64], hi[64];
  LLVMValueRef v[64], mask = lane_mask(cg, vw, 0, n, NULL);
  for (int r = 0; r < vw; r++) v[r] = r0 + r < L->nf ? vload(cg, at_float(cg, plane[r], p0), 0, mask) : LLVMConstNull(cg->vec);
  for (int step = 1; step < vw; step *= 2) {
    for (int l = 0; l < vw; l++) {
      lo[l] = (l & step) ? vw + l - step : l;
      hi[l] = (l & step) ? vw + l : l + step;
    }
    for (int i = 0; i < vw; i++) {
      if (i & step) continue;
      LLVMValueRef a = v[i], b = v[i + step];
      v[i] = LLVMBuildShuffleVector(cg->b, a, b, ivec_const(cg, vw, lo), "");
      v[i + step] = LLVMBuildShuffleVector(cg->b, a, b, ivec_const(cg, vw, hi), "");
    }
  }
  for (int k = 0; k < n; k++) {
    LLVMValueRef at = add(cg, mul(cg, add(cg, p0, i64c(cg, k)), L->lanes), i64c(cg, r0));
    LLVMSetAlignment(LLVMBuildStore(cg->b, v[k], at_float(cg, L->gt, at)), 4);
  }
}

/* gt[position][filter] = y[b, o0 + filter, position]: in vw x vw blocks when
 * each gradient plane is contiguous (the scalar loop's strided stores were
 * a third of the kernel's time on the CNN), else point by point. */
static void lanes_transpose(Cg *cg, const Lanes *L) {
  const Conv *c = L->c;
  const int64_t *st = cg->fp->node[c->y->id].stride;
  int vw = L->cs->vw, pos = c->OH * c->OW;
  if (st[3] == 1 && (st[2] == c->OW || c->OH == 1) && vw <= 64) {
    for (int r0 = 0; r0 < L->nf; r0 += vw) {
      LLVMValueRef plane[64];
      for (int r = 0; r < vw && r0 + r < L->nf; r++)
        plane[r] = row_ptr(cg, c->y, L->b, add(cg, L->o0, i64c(cg, r0 + r)), i64c(cg, 0));
      CgLoop lp;
      LLVMValueRef p = cg_loop_begin(cg, &lp, i64c(cg, 0), i64c(cg, pos / vw), i64c(cg, 1));
      transpose_block(cg, L, plane, r0, mul(cg, p, vw), vw);
      cg_loop_end(cg, &lp);
      if (pos % vw) transpose_block(cg, L, plane, r0, i64c(cg, pos / vw * vw), pos % vw);
    }
    return;
  }
  CgLoop lr, li, lj;
  LLVMValueRef r = cg_loop_begin(cg, &lr, i64c(cg, 0), i64c(cg, L->nf), i64c(cg, 1));
  LLVMValueRef i = cg_loop_begin(cg, &li, i64c(cg, 0), i64c(cg, c->OH), i64c(cg, 1));
  LLVMValueRef row = row_ptr(cg, c->y, L->b, add(cg, L->o0, r), i);
  LLVMValueRef j = cg_loop_begin(cg, &lj, i64c(cg, 0), i64c(cg, c->OW), i64c(cg, 1));
  LLVMValueRef k = add(cg, mul(cg, add(cg, mul(cg, i, c->OW), j), L->lanes), r);
  cg_store(cg, L->gt, k, cg_load(cg, row, j));
  cg_loop_end(cg, &lj);
  cg_loop_end(cg, &li);
  cg_loop_end(cg, &lr);
}

/* xp[ch][h + pad0][w + pad1] = x[b, ch, h, w] where it lies in the copy. */
static void lanes_copy(Cg *cg, const Lanes *L) {
  const Conv *c = L->c;
  int vw = L->cs->vw, ph = L->cs->padded[0], pw = L->cs->padded[1], t = c->w->pad[0], l = c->w->pad[1];
  int h0 = t < 0 ? -t : 0, h1 = c->H < ph - t ? c->H : ph - t, w0 = l < 0 ? -l : 0, w1 = c->W < pw - l ? c->W : pw - l;
  if (h1 <= h0 || w1 <= w0) return;
  CgLoop lc, lh;
  LLVMValueRef ch = cg_loop_begin(cg, &lc, i64c(cg, 0), i64c(cg, c->C), i64c(cg, 1));
  LLVMValueRef h = cg_loop_begin(cg, &lh, i64c(cg, h0), i64c(cg, h1), i64c(cg, 1));
  LLVMValueRef src = row_ptr(cg, c->x, L->b, ch, h);
  LLVMValueRef dst = at_float(cg, L->xp, add(cg, mul(cg, add(cg, mul(cg, ch, ph), h), pw), i64c(cg, t * pw + l)));
  for (int w = w0; w < w1; w += vw) {
    LLVMValueRef mask = lane_mask(cg, vw, 0, w1 - w < vw ? w1 - w : vw, NULL);
    vstore(cg, vload(cg, src, w, mask), at_float(cg, dst, i64c(cg, w)), mask);
  }
  cg_loop_end(cg, &lh);
  cg_loop_end(cg, &lc);
}

/* The vector of sums of input channel ch, tap t, vector v of filters. */
static LLVMValueRef lanes_sums(Cg *cg, const Lanes *L, LLVMValueRef ch, int t, int v) {
  int taps = L->c->KH * L->c->KW;
  return at_float(cg, L->sums, add(cg, mul(cg, ch, taps * L->lanes), i64c(cg, t * L->lanes + v * L->cs->vw)));
}

static void lanes_channel(Cg *cg, const Lanes *L, LLVMValueRef ch) {
  const Conv *c = L->c;
  const IrWindow *w = c->w;
  int taps = c->KH * c->KW, nv = L->cs->vectors, vw = L->cs->vw, ph = L->cs->padded[0], pw = L->cs->padded[1];
  for (int k = 0; k < nv * taps; k++) {
    LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->vec, lanes_sums(cg, L, ch, k / nv, k % nv), "");
    LLVMSetAlignment(v, 4);
    LLVMBuildStore(cg->b, v, L->acc[k]);
  }
  CgLoop li, lj;
  LLVMValueRef i = cg_loop_begin(cg, &li, i64c(cg, 0), i64c(cg, c->OH), i64c(cg, 1));
  LLVMValueRef j = cg_loop_begin(cg, &lj, i64c(cg, 0), i64c(cg, c->OW), i64c(cg, 1));
  LLVMValueRef gv[MAX_ACC], pos = mul(cg, add(cg, mul(cg, i, c->OW), j), L->lanes);
  for (int v = 0; v < nv; v++) {
    gv[v] = LLVMBuildLoad2(cg->b, cg->vec, at_float(cg, L->gt, add(cg, pos, i64c(cg, v * vw))), "");
    LLVMSetAlignment(gv[v], 4);
  }
  LLVMValueRef corner = add(cg, mul(cg, add(cg, mul(cg, ch, ph), mul(cg, i, w->stride[0])), pw), mul(cg, j, w->stride[1]));
  for (int p = 0; p < c->KH; p++)
    for (int q = 0; q < c->KW; q++) {
      LLVMValueRef xs = cg_load(cg, L->xp, add(cg, corner, i64c(cg, p * w->dilation[0] * pw + q * w->dilation[1])));
      LLVMValueRef xv = splat(cg, xs, vw);
      for (int v = 0; v < nv; v++) acc_fma(cg, L->acc[(p * c->KW + q) * nv + v], gv[v], xv);
    }
  cg_loop_end(cg, &lj);
  cg_loop_end(cg, &li);
  for (int k = 0; k < nv * taps; k++) {
    LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->vec, L->acc[k], "");
    LLVMSetAlignment(LLVMBuildStore(cg->b, v, lanes_sums(cg, L, ch, k / nv, k % nv)), 4);
  }
}

/* The unit's filters into plane[r][ch][p][q], then the epilogue over each. */
static void lanes_filters(Cg *cg, const Conv *c, const ConvSchedule *cs, LLVMValueRef o0, int nf, LLVMValueRef plane,
                          LLVMValueRef *acc) {
  int vw = cs->vw, lanes = cs->vectors * vw;
  int64_t per = (int64_t)c->Cg * c->KH * c->KW, pos = (int64_t)c->OH * c->OW;
  int64_t at = (per * cs->rows + vw - 1) / vw * vw;
  Lanes L = {c, cs, nf, lanes, o0, NULL, at_float(cg, plane, i64c(cg, at)), NULL, NULL, acc};
  L.gt = at_float(cg, L.sums, i64c(cg, per * lanes));
  L.xp = at_float(cg, L.gt, i64c(cg, pos * lanes));
  zero(cg, L.sums, per * lanes);
  zero(cg, L.xp, (int64_t)c->C * cs->padded[0] * cs->padded[1]);
  if (nf < lanes) zero(cg, L.gt, pos * lanes);
  CgLoop lb, lc, le, lr;
  L.b = cg_loop_begin(cg, &lb, i64c(cg, 0), i64c(cg, c->B), i64c(cg, 1));
  lanes_transpose(cg, &L);
  lanes_copy(cg, &L);
  LLVMValueRef ch = cg_loop_begin(cg, &lc, i64c(cg, 0), i64c(cg, c->Cg), i64c(cg, 1));
  lanes_channel(cg, &L, ch);
  cg_loop_end(cg, &lc);
  cg_loop_end(cg, &lb);
  LLVMValueRef r = cg_loop_begin(cg, &lr, i64c(cg, 0), i64c(cg, nf), i64c(cg, 1));
  LLVMValueRef e = cg_loop_begin(cg, &le, i64c(cg, 0), i64c(cg, per), i64c(cg, 1));
  cg_store(cg, plane, add(cg, mul(cg, r, per), e), cg_load(cg, L.sums, add(cg, mul(cg, e, lanes), r)));
  cg_loop_end(cg, &le);
  epilogue(cg, c, add(cg, o0, r), at_float(cg, plane, mul(cg, r, per)));
  cg_loop_end(cg, &lr);
}

/* The filters o0 .. o0 + n into the scratch plane, and their epilogue. */
typedef void FilterFn(Cg *cg, const Conv *c, const ConvSchedule *cs, LLVMValueRef o0, int n, LLVMValueRef plane,
                      LLVMValueRef *acc);

/* Unit u's filters: a whole unit's rows, or the last unit's rest. */
static void filter_unit(Cg *cg, FilterFn *fn, const Conv *c, const ConvSchedule *cs, LLVMValueRef u,
                        LLVMValueRef plane, LLVMValueRef *acc) {
  int full = c->O / cs->rows, rest = c->O % cs->rows;
  LLVMValueRef o0 = mul(cg, u, cs->rows);
  if (rest == 0) {
    fn(cg, c, cs, o0, cs->rows, plane, acc);
    return;
  }
  LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "whole");
  LLVMBasicBlockRef last = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "last");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "done");
  LLVMBuildCondBr(cg->b, icmp(cg, LLVMIntSLT, u, full), whole, last);
  LLVMPositionBuilderAtEnd(cg->b, whole);
  fn(cg, c, cs, o0, cs->rows, plane, acc);
  LLVMBuildBr(cg->b, done);
  LLVMPositionBuilderAtEnd(cg->b, last);
  fn(cg, c, cs, o0, rest, plane, acc);
  LLVMBuildBr(cg->b, done);
  LLVMPositionBuilderAtEnd(cg->b, done);
}

static void pool_rows(Cg *cg, const IrNode *u, LLVMValueRef s, LLVMValueRef e);

void conv_emit(Cg *cg, const FuseGroup *G) {
  Conv c = conv_of(G->mm);
  const ConvSchedule *cs = &cg->step->conv;
  LLVMValueRef acc = LLVMBuildAlloca(cg->b, cg->f32, "acc"), slots[MAX_ACC];
  int nslots = cs->method == CONV_LANES                                     ? cs->vectors * c.KH * c.KW
               : cs->method != CONV_TILED                                   ? 0
               : G->mm->op == OP_CONV2D_FILTER ? cs->rows * cs->chans * c.KH * c.KW
                                               : cs->rows * cs->vectors * cs->lines;
  if (nslots > MAX_ACC) die("codegen: a convolution tile of %d accumulators", nslots);
  for (int k = 0; k < nslots; k++) slots[k] = LLVMBuildAlloca(cg->b, cg->vec, "tile");
  Tile T = tile_of(&c, cs, slots);
  CgRange ru;
  LLVMValueRef u = cg_range_begin(cg, &ru, cg->lo, cg->hi);
  if (cs->method == CONV_LANES) filter_unit(cg, lanes_filters, &c, cs, u, cg->scratch, slots);
  else if (cs->method == CONV_TILED && G->mm->op == OP_CONV2D_FILTER)
    filter_unit(cg, filter_rows, &c, cs, u, cg->scratch, slots);
  else {
    if (cs->method == CONV_TILED) tile_image(cg, &T, u, cg->scratch);
    else if (G->mm->op == OP_CONV2D) forward_image(cg, &c, u, cg->scratch);
    else if (G->mm->op == OP_CONV2D_DATA) data_image(cg, &c, u, cg->scratch);
    else filter_channel(cg, &c, u, cg->scratch, acc);
    epilogue(cg, &c, u, cg->scratch);
    if (G->pool) {   /* image u's pooled planes, from the planes just stored */
      int64_t per = shape_numel(G->pool->shape) / G->pool->shape.dim[0];
      LLVMValueRef s = mul(cg, u, per);
      pool_rows(cg, G->pool, s, add(cg, s, i64c(cg, per)));
    }
  }
  cg_range_end(cg, &ru);
  cg->mm = NULL;
}

/* ---- a max pool or unpool alone: window rows in vectors ---- */

/* A max pool or max unpool that is its group's only member, with disjoint
 * windows and no padding (the usual 2x2 pool and its gradient), runs a row
 * of windows at a time instead of point by point (which decoded four
 * coordinates per lane and gathered every tap): each window's first maximum
 * is found once, vw windows to a vector (the taps deinterleaved from a
 * window row's loads when the stride is at most 2, else gathered).  The pool
 * stores the vector; the unpool writes the band of input rows under the
 * windows in whole vectors, each lane picking its window's gradient or 0 by
 * a constant shuffle.  The units still cut the flat output: a row or band
 * cut by a unit boundary is computed by both units, each storing only its
 * own points. */

/* Lanes of row (b, c, h) of s at columns col[l] where on[l] (other lanes
 * undefined): when the row is contiguous and the columns lie within two
 * vectors from column `from`, two masked loads and a constant shuffle (the
 * same loads for every tap of a window row, so they are shared), else a
 * gather. */
static LLVMValueRef row_lanes(Cg *cg, const IrNode *s, LLVMValueRef b, LLVMValueRef c, LLVMValueRef h, int from,
                              const int *col, const bool *on, int vw) {
  CgPoint p = {3, {b, c, h}, {0, 1, 2}};
  const int64_t *st = cg->fp->node[s->id].stride;
  LLVMValueRef off = cg_offset(cg, &p, st);
  LLVMValueRef base = LLVMBuildGEP2(cg->b, cg->f32, cg->bufptr[plan_buf_of_view(cg->mp, s)], &off, 1, "");
  int n = s->shape.dim[3], idx[64];
  bool near = st[3] == 1 || n == 1;
  for (int l = 0; l < vw; l++)
    if (on[l] && (col[l] < from || col[l] >= from + 2 * vw)) near = false;
  if (near) {
    LLVMValueRef v0 = vload(cg, base, from, lane_mask(cg, vw, 0, n - from, NULL));
    LLVMValueRef v1 = vload(cg, base, from + vw, lane_mask(cg, vw, 0, n - from - vw, NULL));
    for (int l = 0; l < vw; l++) idx[l] = on[l] ? col[l] - from : 0;
    return LLVMBuildShuffleVector(cg->b, v0, v1, ivec_const(cg, vw, idx), "");
  }
  LLVMTypeRef i1 = LLVMInt1TypeInContext(cg->ctx);
  LLVMValueRef bits[64];
  for (int l = 0; l < vw; l++) idx[l] = on[l] ? (int)(col[l] * st[3]) : 0, bits[l] = LLVMConstInt(i1, on[l], 0);
  LLVMValueRef iv = ivec_const(cg, vw, idx);
  LLVMValueRef ptrs = LLVMBuildGEP2(cg->b, cg->f32, base, &iv, 1, "");
  LLVMValueRef args[4] = {ptrs, LLVMConstInt(cg->i32, 4, 0), LLVMConstVector(bits, (unsigned)vw),
                          LLVMConstNull(cg->vec)};
  LLVMTypeRef over[2] = {cg->vec, LLVMVectorType(cg->ptr, (unsigned)vw)};
  return cg_call_intrinsic(cg, "llvm.masked.gather", over, 2, args, 4);
}

/* Lanes l of the chunked vectors v[] at window index w[l] (any lane where w[l] < 0). */
static LLVMValueRef pick(Cg *cg, LLVMValueRef *v, int nchunks, const int *w, int vw) {
  int lo = -1;
  for (int l = 0; l < vw; l++)
    if (w[l] >= 0 && (lo < 0 || w[l] / vw < lo)) lo = w[l] / vw;
  if (lo < 0) lo = 0;
  int hi = lo + 1 < nchunks ? lo + 1 : lo, m[64];
  for (int l = 0; l < vw; l++) m[l] = w[l] < 0 ? 0 : w[l] / vw == lo ? w[l] % vw : vw + w[l] % vw;
  return LLVMBuildShuffleVector(cg->b, v[lo], v[hi], ivec_const(cg, vw, m), "");
}

/* Windows ch*vw .. ch*vw + vw - 1 (of ow) of window row `to` of plane (b, c)
 * of u's input a = u->src[0]: the tap of each one's first maximum (the
 * first tap, unless a later one is larger or NaN), and, when v is given,
 * v's value there in *vbest. */
static LLVMValueRef window_max(Cg *cg, const IrNode *u, LLVMValueRef b, LLVMValueRef c, LLVMValueRef to, int ch,
                               int ow, const IrNode *v, LLVMValueRef *vbest) {
  const IrWindow *w = &u->win;
  int vw = cg->t->vector_floats, s1 = w->stride[1], col[64], tap[64];
  bool on[64];
  for (int l = 0; l < vw; l++) on[l] = ch * vw + l < ow;
  LLVMValueRef best = NULL, k = NULL;
  for (int p = 0; p < w->size[0]; p++) {
    LLVMValueRef h = add(cg, mul(cg, to, w->stride[0]), i64c(cg, p));
    for (int q = 0; q < w->size[1]; q++) {
      for (int l = 0; l < vw; l++) col[l] = (ch * vw + l) * s1 + q, tap[l] = p * w->size[1] + q;
      LLVMValueRef val = row_lanes(cg, u->src[0], b, c, h, ch * vw * s1, col, on, vw);
      LLVMValueRef vv = v && v != u->src[0] ? row_lanes(cg, v, b, c, h, ch * vw * s1, col, on, vw) : val;
      if (!best) {
        best = val, k = ivec_const(cg, vw, tap);
        if (v) *vbest = vv;
        continue;
      }
      LLVMValueRef better = LLVMBuildOr(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, val, best, ""),
                                        LLVMBuildFCmp(cg->b, LLVMRealUNO, val, val, ""), "");
      best = sel(cg, better, val, best);
      k = sel(cg, better, ivec_const(cg, vw, tap), k);
      if (v) *vbest = sel(cg, better, vv, *vbest);
    }
  }
  return k;
}

/* Stores v at out + at, lanes l < n whose flat index at + l lies in [s, e) and where `on`.
 * The mask is built as the integer with bits [lo, hi) set, hi and lo the
 * lanes where [s, e) begins and ends clamped to the vector: a few scalar
 * operations, against a vector of flat indices compared twice (two registers
 * of 64-bit lanes each on AVX-512), which cost the pools with rows of few
 * windows more than their loads.  vw < 64, so 1 << vw fits. */
static void store_points(Cg *cg, LLVMValueRef out, LLVMValueRef at, LLVMValueRef v, int n, LLVMValueRef s,
                         LLVMValueRef e, LLVMValueRef on) {
  int vw = cg->t->vector_floats, top = n < vw ? n : vw;
  LLVMValueRef lo = cg_smin(cg, cg_smax(cg, sub(cg, s, at), i64c(cg, 0)), i64c(cg, top));
  LLVMValueRef hi = cg_smax(cg, cg_smin(cg, sub(cg, e, at), i64c(cg, top)), lo);
  LLVMValueRef bits = sub(cg, LLVMBuildShl(cg->b, i64c(cg, 1), hi, ""), LLVMBuildShl(cg->b, i64c(cg, 1), lo, ""));
  if (on) bits = sel(cg, on, bits, i64c(cg, 0));
  LLVMTypeRef iw = LLVMIntTypeInContext(cg->ctx, (unsigned)vw);
  LLVMTypeRef mt = LLVMVectorType(LLVMInt1TypeInContext(cg->ctx), (unsigned)vw);
  LLVMValueRef mask = LLVMBuildBitCast(cg->b, LLVMBuildTrunc(cg->b, bits, iw, ""), mt, "");
  vstore(cg, v, LLVMBuildGEP2(cg->b, cg->f32, out, &at, 1, ""), mask);
}

/* The max pool's flat outputs [s, e): per row of output, a vector of
 * windows at a time. */
static void pool_rows(Cg *cg, const IrNode *u, LLVMValueRef s, LLVMValueRef e) {
  int C = u->shape.dim[1], OH = u->shape.dim[2], OW = u->shape.dim[3];
  int vw = cg->t->vector_floats, nch = (OW + vw - 1) / vw;
  LLVMValueRef first = LLVMBuildSDiv(cg->b, s, i64c(cg, OW), "");
  LLVMValueRef last = add(cg, LLVMBuildSDiv(cg->b, sub(cg, e, i64c(cg, 1)), i64c(cg, OW), ""), i64c(cg, 1));
  last = sel(cg, LLVMBuildICmp(cg->b, LLVMIntSGT, e, s, ""), last, first);
  LLVMValueRef out = cg->bufptr[cg->mp->buf_of[u->id]];
  CgRange rr;
  LLVMValueRef r = cg_range_begin(cg, &rr, first, last);
  LLVMValueRef pl = LLVMBuildUDiv(cg->b, r, i64c(cg, OH), ""), oi = LLVMBuildURem(cg->b, r, i64c(cg, OH), "");
  LLVMValueRef bi = LLVMBuildUDiv(cg->b, pl, i64c(cg, C), ""), ci = LLVMBuildURem(cg->b, pl, i64c(cg, C), "");
  for (int ch = 0; ch < nch; ch++) {
    LLVMValueRef v;
    window_max(cg, u, bi, ci, oi, ch, OW, u->src[1], &v);
    store_points(cg, out, add(cg, mul(cg, r, OW), i64c(cg, ch * vw)), v, OW - ch * vw, s, e, NULL);
  }
  cg_range_end(cg, &rr);
}

/* The max unpool: per band of input rows (one row of windows), each
 * window's tap and gradient, then the band's rows in whole vectors. */
static void unpool_bands(Cg *cg, const IrNode *u, int C, int H, int W, int OH, int OW, int64_t total) {
  const IrWindow *w = &u->win;
  int vw = cg->t->vector_floats, s0 = w->stride[0], s1 = w->stride[1], NB = (H + s0 - 1) / s0;
  int nch = (OW + vw - 1) / vw;
  int64_t HW = (int64_t)H * W, band = (int64_t)s0 * W;
  LLVMValueRef s, e;
  cg_unit_range(cg, total, &s, &e);
  LLVMValueRef e1 = sub(cg, e, i64c(cg, 1));
  LLVMValueRef first = add(cg, mul(cg, LLVMBuildSDiv(cg->b, s, i64c(cg, HW), ""), NB),
                           LLVMBuildSDiv(cg->b, LLVMBuildSRem(cg->b, s, i64c(cg, HW), ""), i64c(cg, band), ""));
  LLVMValueRef last = add(cg, mul(cg, LLVMBuildSDiv(cg->b, e1, i64c(cg, HW), ""), NB),
                          add(cg, LLVMBuildSDiv(cg->b, LLVMBuildSRem(cg->b, e1, i64c(cg, HW), ""), i64c(cg, band), ""),
                              i64c(cg, 1)));
  last = sel(cg, LLVMBuildICmp(cg->b, LLVMIntSGT, e, s, ""), last, first);
  LLVMValueRef out = cg->bufptr[cg->mp->buf_of[u->id]];

  CgRange rb;
  LLVMValueRef gb = cg_range_begin(cg, &rb, first, last);
  LLVMValueRef pl = LLVMBuildUDiv(cg->b, gb, i64c(cg, NB), ""), t = LLVMBuildURem(cg->b, gb, i64c(cg, NB), "");
  LLVMValueRef bi = LLVMBuildUDiv(cg->b, pl, i64c(cg, C), ""), ci = LLVMBuildURem(cg->b, pl, i64c(cg, C), "");
  LLVMValueRef windows = icmp(cg, LLVMIntSLT, t, OH), to = cg_smin(cg, t, i64c(cg, OH - 1));

  /* per chunk of vw windows: the tap of the first maximum and the gradient */
  LLVMValueRef kv[64], gv[64];
  for (int ch = 0; ch < nch; ch++) {
    int col[64];
    bool on[64];
    for (int l = 0; l < vw; l++) on[l] = ch * vw + l < OW, col[l] = ch * vw + l;
    kv[ch] = window_max(cg, u, bi, ci, to, ch, OW, NULL, NULL);
    gv[ch] = row_lanes(cg, u->src[1], bi, ci, to, ch * vw, col, on, vw);
  }

  /* the band's rows: each lane its window's gradient where its tap is the maximum */
  LLVMValueRef zero_f = LLVMConstNull(cg->vec);
  LLVMTypeRef mvec = LLVMVectorType(LLVMInt1TypeInContext(cg->ctx), (unsigned)vw);
  LLVMValueRef win_v = splat_of(cg, windows, mvec, vw);
  for (int p = 0; p < s0; p++) {
    LLVMValueRef h = add(cg, mul(cg, t, s0), i64c(cg, p));
    LLVMValueRef row0 = add(cg, mul(cg, pl, HW), mul(cg, h, W));
    LLVMValueRef hin = icmp(cg, LLVMIntSLT, h, H);
    for (int x0 = 0; x0 < W; x0 += vw) {
      int wi[64], tap[64];
      for (int l = 0; l < vw; l++) {
        int x = x0 + l, oj = x / s1, q = x % s1;
        bool ok = p < w->size[0] && x < W && q < w->size[1] && oj < OW;
        wi[l] = ok ? oj : -1, tap[l] = ok ? p * w->size[1] + q : -1;
      }
      LLVMValueRef v = zero_f;
      if (p < w->size[0]) {
        LLVMValueRef hit = LLVMBuildICmp(cg->b, LLVMIntEQ, pick(cg, kv, nch, wi, vw), ivec_const(cg, vw, tap), "");
        v = sel(cg, and2(cg, hit, win_v), pick(cg, gv, nch, wi, vw), zero_f);
      }
      store_points(cg, out, add(cg, row0, i64c(cg, x0)), v, W - x0, s, e, hin);
    }
  }
  cg_range_end(cg, &rb);
}

bool window_alone(Cg *cg, const FuseGroup *G) {
  const IrNode *u = G->root;
  int vw = cg->t->vector_floats;
  if (G->nmembers != 1 || (u->op != OP_MAX_UNPOOL2D && u->op != OP_MAX_POOL2D) || vw >= 64 ||
      !ir_window_disjoint(&u->win))
    return false;
  bool unpool = u->op == OP_MAX_UNPOOL2D;
  Shape xs = unpool ? u->shape : u->src[0]->shape, ys = unpool ? u->src[1]->shape : u->shape;
  int C = xs.dim[1], H = xs.dim[2], W = xs.dim[3], OH = ys.dim[2], OW = ys.dim[3];
  int64_t total = shape_numel(u->shape);
  const LoopNest *L = &cg->step->loops;
  if (L->n != 1 || L->size[0] != total || W > 64 * vw) return false;
  for (int k = 0; k < 2; k++)
    if (cg->fp->node[u->src[k]->id].role == ROLE_CONST) return false;
  if (unpool) {
    unpool_bands(cg, u, C, H, W, OH, OW, total);
  } else {
    LLVMValueRef s, e;
    cg_unit_range(cg, total, &s, &e);
    pool_rows(cg, u, s, e);
  }
  return true;
}
