/* schedule: loop nests, tiles and thread splits (see schedule.h). */
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

enum {
  /* a step shares out among threads only above this much work: below it,
   * waking the others costs more than they save */
  PARALLEL_MIN_WORK = 1 << 15,
  /* a flat loop is cut into at most this many units (rows of a nest, or of
   * a row-wise reduction with long rows, are a unit each) */
  MAX_UNITS = 64,
  /* row blocks go outside column panels when all of B, packed, fits this:
   * an L2 cache on every x86 and Arm core this project has met (Zen 3 has
   * 512 KB), so each row block streams B from L2 */
  PACKED_B_BYTES = 512 * 1024,
  /* up to this many multiply-adds a product runs a row at a time: packing
   * and a padded tile would cost more than the arithmetic */
  DIRECT_MAX_MACS = 16384,
  DIRECT_MAX_COLS = 1024,   /* its row lives on the stack */
  /* floats in a cache line (64 bytes on every x86 and Arm core met) */
  LINE_FLOATS = 16,
};

/* ---- accesses and loop nests ---- */

typedef struct {
  int n;                        /* accesses collected */
  int cap;                      /* allocated */
  int64_t (*st)[IR_MAX_DIMS];   /* space strides of each */
} Accesses;

static void add_access(Accesses *a, const int64_t *st, int ndim) {
  if (a->n == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 16;
    a->st = xrealloc(a->st, sizeof(*a->st) * (size_t)a->cap);
  }
  memset(a->st[a->n], 0, sizeof(a->st[0]));
  memcpy(a->st[a->n++], st, sizeof(int64_t) * (size_t)ndim);
}

void schedule_own_strides(const FusePlan *fp, const IrNode *n, int space_ndim, int64_t *st) {
  int64_t c[IR_MAX_DIMS];
  const int *map = fp->node[n->id].map;
  fuse_contig_strides(n->shape, c);
  for (int d = 0; d < space_ndim; d++) st[d] = 0;
  for (int k = 0; k < n->shape.ndim; k++)
    if (map[k] >= 0) st[map[k]] += c[k];
}

typedef struct {
  Accesses *acc;   /* where reads go */
  int ndim;        /* space rank */
} ReadCtx;

static void on_read(void *ctx, const IrNode *n, const IrNode *base, const int64_t *st) {
  (void)n, (void)base;
  ReadCtx *r = ctx;
  if (st) add_access(r->acc, st, r->ndim);
}

/* Every load, store and random-number index of group gi, as space strides. */
static void group_accesses(const FusePlan *fp, int gi, Accesses *acc) {
  const FuseGroup *G = &fp->groups[gi];
  ReadCtx r = {acc, G->space.ndim};
  fuse_group_reads(fp, gi, on_read, &r);
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    if (fp->node[u->id].stored || u->op == OP_RAND) {
      int64_t st[IR_MAX_DIMS];
      schedule_own_strides(fp, u, G->space.ndim, st);
      add_access(acc, st, G->space.ndim);
    }
  }
}

/* Loops over the space axes selected by `pick` (in order), merging
 * neighbours that every access sees as one. */
static LoopNest make_nest(Shape space, const Accesses *acc, unsigned pick) {
  LoopNest L = {0};
  for (int d = 0; d < space.ndim; d++) {
    if (space.dim[d] == 1 || !(pick >> d & 1u)) continue;
    /* merged index I = i_outer * dim[d] + i_d: needs st[outer] == st[d] * dim[d] everywhere */
    bool merge = L.n > 0;
    for (int a = 0; merge && a < acc->n; a++)
      if (acc->st[a][L.hi[L.n - 1]] != acc->st[a][d] * space.dim[d]) merge = false;
    if (merge) {
      L.size[L.n - 1] *= space.dim[d];
      L.hi[L.n - 1] = d;
    } else {
      L.size[L.n] = space.dim[d];
      L.hi[L.n++] = d;
    }
  }
  return L;
}

static LoopNest group_nest(const FusePlan *fp, int gi, unsigned axes) {
  Accesses acc = {0};
  group_accesses(fp, gi, &acc);
  LoopNest L = make_nest(fp->groups[gi].space, &acc, axes);
  free(acc.st);
  return L;
}

/* A copy of src's elements into a contiguous buffer: loads through src's
 * view (contiguously from a buffer when from_buf, nothing when constant). */
static LoopNest copy_nest(const FusePlan *fp, const IrNode *src, bool from_buf) {
  const FuseNode *f = &fp->node[src->id];
  int64_t ld[IR_MAX_DIMS] = {0}, st[IR_MAX_DIMS] = {0};
  fuse_contig_strides(src->shape, st);
  if (from_buf)
    memcpy(ld, st, sizeof ld);
  else if (f->role != ROLE_CONST)
    for (int d = 0; d < src->shape.ndim; d++) ld[d] = src->shape.dim[d] == 1 ? 0 : f->stride[d];
  Accesses acc = {0};
  add_access(&acc, ld, src->shape.ndim);
  add_access(&acc, st, src->shape.ndim);
  LoopNest L = make_nest(src->shape, &acc, ~0u);
  free(acc.st);
  return L;
}

/* ---- steps ---- */

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

static int64_t nest_points(const LoopNest *L) {
  int64_t n = 1;
  for (int j = 0; j < L->n; j++) n *= L->size[j];
  return n;
}

/* Units of the outermost loop: rows of a nest, or pieces of a flat loop
 * (per_point: the work at each of its points, a row reduction's row). */
static void split_nest(StepSchedule *ss, const Target *t, int64_t per_point) {
  if (ss->loops.n == 0) {
    ss->units = 1, ss->grain = 1;
    return;
  }
  int64_t s0 = ss->loops.size[0];
  if (ss->loops.n > 1 || per_point >= 4 * t->vector_floats) {
    ss->units = s0, ss->grain = 1;
    return;
  }
  ss->grain = round_up((s0 + MAX_UNITS - 1) / MAX_UNITS, 4 * t->vector_floats);
  ss->units = (s0 + ss->grain - 1) / ss->grain;
}

/* An in-memory reduction (a bias gradient: [128,1024] -> [1024]) adds every
 * point into its output, so its rows cannot be shared out without changing
 * the order of a sum.  Where its inner loop runs over every output once (the
 * outer loops are the reduced axes), the units are slices of that loop, a
 * multiple of 4 vectors: each thread sums its own columns over every row, in
 * the same order as one thread would.  Otherwise it is one unit. */
static void split_columns(StepSchedule *ss, const Target *t, int64_t outputs) {
  const LoopNest *L = &ss->loops;
  if (L->n < 2 || L->size[L->n - 1] != outputs) {
    ss->units = 1, ss->grain = L->n ? L->size[0] : 1;
    return;
  }
  ss->split_columns = true;
  ss->grain = round_up((outputs + MAX_UNITS - 1) / MAX_UNITS, 4 * t->vector_floats);
  ss->units = (outputs + ss->grain - 1) / ss->grain;
}

/* Whether a stride of s floats is a multiple of 4 KB. */
static bool four_k(int64_t s) { return s * (int64_t)sizeof(float) % 4096 == 0; }

/* Element strides of the product computed (after a swap):
 * A[i,k] at am i + ak k, B[k,j] at bk k + bn j. */
typedef struct {
  int64_t am, ak, bk, bn;
} ProductStrides;

static ProductStrides product_strides(const FusePlan *fp, const IrNode *mm, bool swap) {
  const int64_t *sa = fp->node[mm->src[0]->id].stride, *sb = fp->node[mm->src[1]->id].stride;
  ProductStrides s = {mm->ta ? sa[1] : sa[0], mm->ta ? sa[0] : sa[1], mm->tb ? sb[1] : sb[0], mm->tb ? sb[0] : sb[1]};
  if (swap) return (ProductStrides){s.bn, s.bk, s.ak, s.am};   /* B^T[i,k] = B[k,i], A^T[k,j] = A[j,k] */
  return s;
}

static void schedule_gemm(const FusePlan *fp, const FuseGroup *G, const Target *t, bool updates, StepSchedule *ss) {
  const IrNode *mm = G->mm, *a = mm->src[0];
  GemmSchedule *g = &ss->gemm;
  g->M = mm->shape.dim[0];
  g->N = mm->shape.dim[1];
  g->K = mm->ta ? a->shape.dim[0] : a->shape.dim[1];
  g->rows = t->tile_rows;
  g->vectors = t->tile_vectors;
  g->vw = t->vector_floats;
  int64_t nr = g->vectors * g->vw;
  if (g->N <= g->vw && g->M > g->N) {
    /* a narrow C (the logits layer): a transposed A makes B^T A^T cheap to
     * pack (A^T's rows are contiguous) and fills whole tiles; otherwise one
     * vector per tile row pads less than two */
    int64_t am = mm->ta ? fp->node[a->id].stride[1] : fp->node[a->id].stride[0];
    g->swap = am == 1;
    if (g->swap) {
      int64_t m = g->M;
      g->M = g->N, g->N = m;
    } else {
      g->vectors = 1;
      nr = g->vw;
    }
  }
  ProductStrides st = product_strides(fp, mm, g->swap);
  /* the row blocks evened out: 10 rows as 5 + 5 rather than 8 + 2, whose
   * 2-row micro-kernel has too few accumulators to hide the FMA latency */
  int64_t blocks = (g->M + g->rows - 1) / g->rows;
  if (blocks > 0) g->rows = (int)((g->M + blocks - 1) / blocks);
  ss->work = 2 * g->M * g->N * g->K + g->M * g->N * G->nmembers;
  ss->grain = 1;
  g->direct = g->M * g->N * g->K <= DIRECT_MAX_MACS && g->N <= DIRECT_MAX_COLS;
  /* computed as C^T, a unit of C^T's rows is a few of C's columns: two
   * threads would write the same cache lines of C (and of an update's w, m
   * and v in the epilogue), which their cores then pass back and forth (W1's
   * 128x10 weight gradient with Adam: 5.5 us on one thread, 41 us on each of
   * two, Zen 5), so such a product runs as one unit, or in column slices
   * (below: C^T's columns are C's rows, contiguous) */
  if (g->direct) {
    ss->units = g->M;
    if (g->swap) ss->grain = ss->units, ss->units = 1;
    return;
  }
  g->rows_outer = g->K * round_up(g->N, nr) * 4 <= PACKED_B_BYTES;
  /* A row block's k step reads A[i0.., k]: one cache line as they are when
   * am is 1 (a transposed A, X^T of a weight gradient), so A is packed only
   * when its rows are strided or its k steps lie a multiple of 4 KB apart
   * (1024 rows): then every step's line falls in one set of the L1 cache,
   * and the block's K lines evict each other */
  g->pack_a = g->rows_outer && st.ak != 1 && (st.am != 1 || four_k(st.ak)) && g->M > g->rows;
  /* B is read in place when its rows hold whole panels, not 4 KB apart:
   * each k step of a panel is then nr contiguous floats as packed, one row
   * of B apart instead of nr, and the copy is saved.  With rows outside,
   * only when at most two row blocks would read the packed copy (B packed
   * whole is then not paid back).  Panels outside, a panel read in place
   * stays in the L2 cache for the row blocks after the first if the rows it
   * walks span at most the L2 (its lines, nr floats of every row, fall in
   * that share of the cache's sets): W1's forward 784x256 weight (rows 1 KB
   * apart, 784 KB) took 119-128 us read in place against 133-136 us packed
   * per panel, the cost of the copy, while fashion_cnn's 3136x128 (1.6 MB)
   * took 360-420 us against 321-333 (AMD EPYC Zen 5, 1 MiB L2, AVX-512,
   * `nnc train --profile`).  Rows 4 KB apart (1024 columns) would share the
   * L1 cache's sets and stay packed. */
  bool whole_panels = st.bn == 1 && g->N % nr == 0 && !four_k(st.bk);
  g->b_in_place = whole_panels && (g->rows_outer ? g->M <= 2 * g->rows : g->K * st.bk * 4 <= t->l2_bytes);
  /* A product whose epilogue updates a leaf in place (a weight's gradient
   * and its optimizer step) gives each thread a slice of C's columns, not of
   * its rows: the thread then writes the weight's elements that it read in
   * the forward product (whose units are column panels when the weight is
   * large), and no core takes cache lines from the other for every update.
   * On two cores of a Zen 5 guest, invalidating another core's copy cost
   * about 30 ns a line, and W1's 784x256 weight gradient with Adam took
   * 170-177 us a thread, more than the whole product on one thread (W3's
   * 784x1024: 890-910 -> 790-840 us on two threads).  Not where A is
   * packed: every thread would pack every row block of A, and W3's
   * 1024x1024 (whose weight the input gradient reads by rows anyway) took
   * 1160-1180 us in rows, 1315-1350 in column slices.  A product computed
   * as C^T takes column slices too: they are slices of C's rows (W3's
   * 1024x10 weight gradient with Adam: 61-69 us whole, 32-39 us sliced on
   * two threads).  Only where every slice edge falls between cache lines:
   * panels of whole lines (not SSE2's 8 floats), and rows of C that start on
   * one (N a multiple of a line; C^T's slices are whole rows of C). */
  bool edges_on_lines = nr % LINE_FLOATS == 0 && (g->swap || g->N % LINE_FLOATS == 0);
  g->column_slices = g->rows_outer && (updates || g->swap) && !g->pack_a && g->N > nr && edges_on_lines;
  ss->units = g->rows_outer && !g->column_slices ? (g->M + g->rows - 1) / g->rows : (g->N + nr - 1) / nr;
  if (g->swap && g->rows_outer && !g->column_slices) ss->grain = ss->units, ss->units = 1;
  /* packed B; rows outside: the row block's results and packed A too */
  int64_t packed_b = g->b_in_place ? 0 : g->rows_outer ? round_up(g->N, nr) * g->K : nr * g->K;
  ss->scratch = packed_b + (g->rows_outer ? round_up(g->N, nr) * g->rows : 0) + (g->pack_a ? g->rows * g->K : 0);
}

/* Whether source s can be read as vectors along its rows: a buffer (or a
 * view of one) whose last axis is contiguous. */
static bool rows_contiguous(const FusePlan *fp, const IrNode *s) {
  const FuseNode *f = &fp->node[s->id];
  bool buffer = f->role == ROLE_LEAF || f->role == ROLE_VIEW || (f->role == ROLE_MEMBER && f->stored);
  return buffer && (s->shape.dim[3] == 1 || f->stride[3] == 1);
}

/* The tiled kernel when the geometry allows: rows of the input side read as
 * vectors need a column stride of 1 (conv2d_data: both strides, since its
 * taps then walk the gradient at whole positions). */
static void tile_conv(const FusePlan *fp, const IrNode *c, const Target *t, ConvSchedule *cs) {
  const IrWindow *w = &c->win;
  int regs = t->vector_regs, vw = t->vector_floats;
  bool data = c->op == OP_CONV2D_DATA, filter = c->op == OP_CONV2D_FILTER;
  /* the filter of conv2d and conv2d_data is read a number at a time */
  bool ok = w->stride[1] == 1 && (!data || w->stride[0] == 1) && rows_contiguous(fp, c->src[0]) &&
            (!filter || rows_contiguous(fp, c->src[1]));
  int taps = w->size[0] * w->size[1];
  if (!ok || (filter && taps > regs - 3)) return;
  cs->method = CONV_TILED;
  cs->vw = vw;
  int cg = c->shape.dim[1], o = c->shape.dim[0];
  if (filter && w->groups == 1 && o >= vw && cg * taps >= 4 * vw && taps + 2 <= regs) {
    /* filters in the lanes: each image's gradient transposed so a position's
     * filters are whole aligned vectors, each input value broadcast from a
     * zero-padded copy of its plane (no masks, no horizontal sums); the
     * transposes cost a few per cent when a filter has many inputs */
    int nvec = (o + vw - 1) / vw, most = (regs - 1) / (taps + 1), blocks = (nvec + most - 1) / most;
    cs->method = CONV_LANES;
    cs->vw = vw;
    cs->vectors = (nvec + blocks - 1) / blocks;
    cs->rows = cs->vectors * vw < o ? cs->vectors * vw : o;
    const Shape *g = &c->src[1]->shape;
    for (int a = 0; a < 2; a++) cs->padded[a] = (g->dim[2 + a] - 1) * w->stride[a] + (w->size[a] - 1) * w->dilation[a] + 1;
    return;
  }
  if (filter) {
    /* rows of output channels (one group's) share each vector of input
     * loaded; their gradient vectors and one of input sit beside the taps */
    int og = o / w->groups;
    cs->rows = 1;
    while (w->groups == 1 && cs->rows < og && (cs->rows + 1) * (taps + 1) + 2 <= regs) cs->rows++;
    cs->chans = cs->rows > 1 ? 1 : (regs - 3) / taps < cg ? (regs - 3) / taps : cg;
    return;
  }
  /* each broadcast filter value feeds every vector of the tile: rows that
   * fit in one vector take two output rows, halving the broadcasts per
   * multiply-add (a tile of one vector did a broadcast per multiply-add) */
  int cols = c->shape.dim[3], per_group = c->shape.dim[1] / w->groups;
  cs->vectors = (cols + vw - 1) / vw < 4 ? (cols + vw - 1) / vw : 4;
  cs->lines = cs->vectors == 1 && c->shape.dim[2] > 1 ? 2 : 1;
  int n = cs->vectors * cs->lines, most = (regs - n - 2) / n > 0 ? (regs - n - 2) / n : 1;
  /* rows that leave lanes idle (14 columns in 16) run back to back instead
   * when the input is as wide and walked with stride 1: the same tile of
   * vectors, along the flat plane, idle only at its end (on
   * examples/fashion_cnn.nn, AMD EPYC Zen 5, AVX-512, `nnc train --profile`:
   * the first convolution, 28 columns in 32 lanes, 660-680 -> 621-638 us;
   * the second, 14 in 16, 2556-2569 -> 2449-2468 us; its data gradient
   * 2412-2480 -> 2336-2351 us).  Each tap's load is masked by lanes known
   * only at run time, so only on a family with masked loads: SSE2 has none,
   * LLVM splits each lane by lane, and the whole train step of
   * examples/fashion_cnn.nn in SSE2 code (`nnc compile --cpu x86-64`, run
   * on the same Zen 5) took 91-95 -> 105-109 ms flat.  The input's rows must
   * lie back to back (a plane of stride W), the filter fit
   * CONV_FLAT_MAX_SIZE and twice a plane's points an i32 (the lanes past
   * its end and the taps' shifts stay in range). */
  int64_t points = (int64_t)c->shape.dim[2] * cols, row_lanes = c->shape.dim[2] * round_up(cols, vw);
  const FuseNode *in = &fp->node[c->src[0]->id];
  if (t->masked_loads && round_up(points, vw) < row_lanes && 2 * points <= INT32_MAX && w->stride[0] == 1 &&
      c->src[0]->shape.dim[3] == cols && in->stride[2] == cols && w->size[0] <= CONV_FLAT_MAX_SIZE &&
      w->size[1] <= CONV_FLAT_MAX_SIZE) {
    cs->flat = true;
    cs->lines = 1;
    cs->vectors = (int)(n < (points + vw - 1) / vw ? n : (points + vw - 1) / vw);
  }
  int blocks = (per_group + most - 1) / most;
  cs->rows = (per_group + blocks - 1) / blocks;   /* blocks of equal height */
}

/* A convolution: conv2d and conv2d_data split by image (each unit makes
 * whole output planes), conv2d_filter by filter; every output element is
 * summed by one unit, so the split never changes a sum. */
static void schedule_conv(const FusePlan *fp, int gi, const Target *t, StepSchedule *ss) {
  const FuseGroup *G = &fp->groups[gi];
  const IrNode *c = G->mm;
  const IrWindow *w = &c->win;
  Shape x = c->op == OP_CONV2D_DATA ? c->shape : c->src[0]->shape;
  Shape y = c->op == OP_CONV2D ? c->shape : c->src[c->op == OP_CONV2D_DATA ? 0 : 1]->shape;
  int64_t per_out = (int64_t)x.dim[1] / w->groups * w->size[0] * w->size[1];
  ss->conv.method = CONV_LOOPS;
  ss->conv.macs = shape_numel(y) * per_out;
  tile_conv(fp, c, t, &ss->conv);
  ss->work = 2 * ss->conv.macs + shape_numel(G->space) * G->nmembers;
  /* units: the output's first axis (images; a filter's output channels,
   * or its tile's rows of them), each computed whole in a scratch plane */
  /* the epilogue's loops over a unit's plane: axes the accesses see as one
   * merged (a row of 28 then vectorizes as 784 points, not 16 + 12) */
  ss->loops = group_nest(fp, gi, ~1u);
  bool tiled_filter = c->op == OP_CONV2D_FILTER && ss->conv.method == CONV_TILED;
  int rows = c->op == OP_CONV2D_FILTER && ss->conv.method != CONV_LOOPS ? ss->conv.rows : 1;
  ss->grain = 1;
  ss->units = (c->shape.dim[0] + rows - 1) / rows;
  ss->scratch = shape_numel(c->shape) / c->shape.dim[0] * rows;
  /* conv2d_filter's tiles keep a vector of sums per filter element beside it */
  if (tiled_filter)
    ss->scratch = round_up(ss->scratch, t->vector_floats) + ss->scratch * t->vector_floats;
  if (ss->conv.method == CONV_LANES) {
    /* the planes, their sums (a vector of filters each), the transposed gradient, the padded input */
    int64_t per = shape_numel(c->shape) / c->shape.dim[0], lanes = ss->conv.vectors * t->vector_floats;
    ss->scratch = round_up(per * rows, t->vector_floats) + per * lanes + (int64_t)y.dim[2] * y.dim[3] * lanes +
                  (int64_t)x.dim[1] * ss->conv.padded[0] * ss->conv.padded[1];
  }
}

/* Whether group G stores a value into a leaf's buffer: an update in place. */
static bool updates_leaf(const MemPlan *mp, const FuseGroup *G) {
  for (int i = 0; i < G->nmembers; i++) {
    int b = mp->buf_of[G->members[i]->id];
    if (mp->fp->node[G->members[i]->id].stored && b >= 0 && mp->bufs[b].leaf >= 0) return true;
  }
  return false;
}

static void schedule_step(const MemPlan *mp, const Target *t, int si, StepSchedule *ss) {
  const PlanStep *s = &mp->steps[si];
  const FusePlan *fp = mp->fp;
  const FuseGroup *G = s->kind == STEP_GROUP ? &fp->groups[s->group] : NULL;
  if (!G) {
    ss->loops = copy_nest(fp, s->src, s->src_buf >= 0);
    ss->work = shape_numel(s->src->shape);
  } else if (G->kind == FG_MATMUL) {
    schedule_gemm(fp, G, t, updates_leaf(mp, G), ss);
  } else if (G->kind == FG_CONV) {
    schedule_conv(fp, s->group, t, ss);
  } else if (G->kind == FG_COPY) {
    ss->loops = copy_nest(fp, G->root->src[0], false);
    ss->work = shape_numel(G->root->shape);
  } else if (G->kind == FG_REDUCE && G->rowwise) {
    ss->loops = group_nest(fp, s->group, ~G->axes);
    ss->inner = group_nest(fp, s->group, G->axes);
    ss->work = shape_numel(G->space) * G->nmembers;
  } else {
    ss->loops = group_nest(fp, s->group, ~0u);
    ss->work = shape_numel(G->space) * G->nmembers;
  }
  bool in_memory = G && G->kind == FG_REDUCE && !G->rowwise;   /* every point adds into its output */
  if (!G || (G->kind != FG_MATMUL && G->kind != FG_CONV)) {
    if (in_memory) split_columns(ss, t, shape_numel(G->root->shape));
    else split_nest(ss, t, G && G->kind == FG_REDUCE && G->rowwise ? nest_points(&ss->inner) : 1);
  }
  ss->split = ss->units > 1 && ss->work >= PARALLEL_MIN_WORK ? SPLIT_PARALLEL : SPLIT_SERIAL;
}

Schedule *schedule_plan(const MemPlan *mp, const Target *t) {
  Arena *a = arena_new();
  Schedule *s = NEW(a, Schedule);
  s->arena = a;
  s->mp = mp;
  s->t = t;
  s->steps = NEW_ARRAY(a, StepSchedule, mp->nsteps + 1);
  int64_t scratch = 0;
  for (int si = 0; si < mp->nsteps; si++) {
    schedule_step(mp, t, si, &s->steps[si]);
    if (s->steps[si].scratch > scratch) scratch = s->steps[si].scratch;
  }
  s->scratch = round_up(scratch, t->align / 4);
  return s;
}

void schedule_free(Schedule *s) {
  if (s) arena_free(s->arena);
}

void schedule_range(const Schedule *s, int si, int tid, int nthreads, int64_t *lo, int64_t *hi) {
  const StepSchedule *ss = &s->steps[si];
  if (ss->split == SPLIT_SERIAL || nthreads <= 1) {
    *lo = 0;
    *hi = tid == 0 ? ss->units : 0;
    return;
  }
  *lo = ss->units * tid / nthreads;
  *hi = ss->units * (tid + 1) / nthreads;
}

bool schedule_barrier_before(const Schedule *s, int si) {
  return si > 0 && (s->steps[si].split == SPLIT_PARALLEL || s->steps[si - 1].split == SPLIT_PARALLEL);
}

int64_t schedule_workspace(const Schedule *s, int nthreads) {
  return schedule_scratch_offset(s, 0) + (int64_t)nthreads * s->scratch;
}

int64_t schedule_scratch_offset(const Schedule *s, int tid) {
  return round_up(s->mp->workspace, s->t->align / 4) + (int64_t)tid * s->scratch;
}

/* ---- printing ---- */

static void print_nest(FILE *out, const char *what, const LoopNest *L) {
  fprintf(out, " %s", what);
  if (L->n == 0) fprintf(out, " (none)");
  for (int j = 0; j < L->n; j++) fprintf(out, "%s%lld", j ? "x" : " ", (long long)L->size[j]);
}

static void print_split(FILE *out, const StepSchedule *ss, int nthreads) {
  if (ss->split == SPLIT_SERIAL) {
    fprintf(out, " | serial%s\n", ss->units <= 1 ? " (indivisible)" : "");
    return;
  }
  fprintf(out, " | %lld units of %lld, threads:", (long long)ss->units, (long long)ss->grain);
  for (int tid = 0; tid < nthreads; tid++) {
    int64_t lo = ss->units * tid / nthreads, hi = ss->units * (tid + 1) / nthreads;
    fprintf(out, "%s%lld", tid ? "+" : " ", (long long)(hi - lo));
  }
  fputc('\n', out);
}

static const char *group_kind(const FuseGroup *G) {
  switch (G->kind) {
  case FG_ELEMWISE: return "elementwise";
  case FG_REDUCE: return G->rowwise ? "rows" : "reduce";
  case FG_MATMUL: return "matmul";
  case FG_CONV: return "conv";
  case FG_COPY: return "copy";
  }
  return "?";
}

/* The step's description, without the split. */
static void describe_step(FILE *out, const Schedule *s, int si) {
  const PlanStep *p = &s->mp->steps[si];
  const StepSchedule *ss = &s->steps[si];
  char sh[96];
  if (p->kind == STEP_COPY) {
    fprintf(out, "copy %s", shape_str(p->src->shape, sh));
    print_nest(out, "loops", &ss->loops);
    return;
  }
  const FuseGroup *G = &s->mp->fp->groups[p->group];
  fprintf(out, "kernel %d %s %s", p->group, group_kind(G), shape_str(G->space, sh));
  if (G->kind == FG_MATMUL) {
    const GemmSchedule *g = &ss->gemm;
    fprintf(out, " M=%lld N=%lld K=%lld%s", (long long)g->M, (long long)g->N, (long long)g->K,
            g->swap ? " (as C^T = B^T A^T)" : "");
    if (g->direct)
      fprintf(out, " direct, a row at a time");
    else
      fprintf(out, " tile %dx%d (%d floats/vector) %s%s%s", g->rows, g->vectors * g->vw, g->vw,
              !g->rows_outer      ? "panels outside rows"
              : g->column_slices ? "rows outside panels in column slices"
                                 : "rows outside panels",
              g->b_in_place      ? ", B read in place"
              : !g->rows_outer   ? ", B packed per panel"
              : g->column_slices ? ", B packed per slice"
                                 : ", B packed whole",
              g->pack_a ? ", A packed per row block" : "");
  } else if (G->kind == FG_CONV) {
    const ConvSchedule *cs = &ss->conv;
    fprintf(out, " %s %lld multiply-adds, ", op_info[G->mm->op].name, (long long)cs->macs);
    if (cs->method == CONV_LOOPS) fprintf(out, "direct loops over output planes");
    else if (cs->method == CONV_LANES)
      fprintf(out, "filters in lanes, %d per unit, tiles of %d vector%s x one input channel's taps (%d floats/vector)",
              cs->rows, cs->vectors, cs->vectors == 1 ? "" : "s", cs->vw);
    else if (G->mm->op == OP_CONV2D_FILTER)
      fprintf(out, "tiles of %d filter%s x %d input channels' taps (%d floats/vector)", cs->rows,
              cs->rows == 1 ? "" : "s", cs->chans, cs->vw);
    else if (cs->flat)
      fprintf(out, "tiles of %d channels x %d vector%s of the flat plane (%d floats/vector)", cs->rows, cs->vectors,
              cs->vectors == 1 ? "" : "s", cs->vw);
    else
      fprintf(out, "tiles of %d channels x %d vector%s of %d row%s (%d floats/vector)", cs->rows, cs->vectors,
              cs->vectors == 1 ? "" : "s", cs->lines, cs->lines == 1 ? "" : "s", cs->vw);
    if (G->pool) {
      char buf[96];
      fprintf(out, ", then %s %s per image", op_info[G->pool->op].name, shape_str(G->pool->shape, buf));
    }
  } else {
    print_nest(out, "loops", &ss->loops);
    if (G->kind == FG_REDUCE && G->rowwise) print_nest(out, "per row", &ss->inner);
    if (ss->split_columns && ss->split == SPLIT_PARALLEL) fprintf(out, ", units of columns");
  }
}

void schedule_print_step(FILE *out, const Schedule *s, int si) {
  describe_step(out, s, si);
  fputc('\n', out);
}

void schedule_print(FILE *out, const Schedule *s, int nthreads) {
  const MemPlan *mp = s->mp;
  fprintf(out, "# target %s (%s): %d floats per vector, tile %dx%d vectors; %d thread%s\n", s->t->cpu,
          target_family_name(s->t->family), s->t->vector_floats, s->t->tile_rows, s->t->tile_vectors, nthreads,
          nthreads == 1 ? "" : "s");
  fprintf(out, "# workspace %lld floats, scratch %lld floats per thread\n", (long long)mp->workspace,
          (long long)s->scratch);
  for (int si = 0; si < mp->nsteps; si++) {
    if (schedule_barrier_before(s, si) && nthreads > 1) fprintf(out, "  -- barrier\n");
    fprintf(out, "step %d: ", si);
    describe_step(out, s, si);
    print_split(out, &s->steps[si], nthreads);
  }
}
