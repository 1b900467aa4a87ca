/* plan: steps, buffers, in-place updates and workspace offsets (see plan.h).
 *
 * Order of steps: copies of outputs that only depend on leaves (taken before
 * any update can change a leaf), the fuse groups, copies that materialize
 * update values which are leaves or views, output copies of non-contiguous
 * views, and last the copies of updates that could not be written in place.
 * Offsets come from a linear scan over the steps with first-fit placement:
 * a buffer is placed when its step starts (while the step's inputs are still
 * held) and released after its last reader.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  MemPlan *mp;       /* plan being built (arena, buf_of) */
  Vec steps;         /* PlanStep* while building */
  Vec bufs;          /* PlanBuf* while building */
} Build;

static int add_buf(Build *b, int leaf, int64_t numel) {
  PlanBuf *pb = NEW(b->mp->arena, PlanBuf);
  pb->leaf = leaf;
  pb->numel = numel;
  vec_push(&b->bufs, pb);
  return b->bufs.len - 1;
}

static void add_step(Build *b, StepKind kind, int group, const IrNode *src, int src_buf, int dst) {
  PlanStep *s = NEW(b->mp->arena, PlanStep);
  *s = (PlanStep){kind, group, src, src_buf, dst};
  vec_push(&b->steps, s);
}

int plan_buf_of_view(const MemPlan *mp, const IrNode *n) {
  const IrNode *base = mp->fp->node[n->id].base;
  if (!base) die("plan: %s has no buffer", op_info[n->op].name);
  return mp->buf_of[base->id];
}

/* ---- reads per step, for the in-place test and for liveness ---- */

typedef struct {
  const MemPlan *mp;     /* for buffer numbers */
  int want;              /* buffer asked about, or -1: collect every read */
  const int64_t *match;  /* strides every read of `want` must equal (NULL: any read fails) */
  int ndim;              /* space rank for the comparison */
  bool ok;               /* every read so far matched */
  bool any;              /* `want` read at all */
  int *reads;            /* collect mode: buffers read */
  int nreads;            /* collect mode: count */
} ReadScan;

static void on_read(void *ctx, const IrNode *n, const IrNode *base, const int64_t *strides) {
  ReadScan *r = ctx;
  (void)n;
  int buf = r->mp->buf_of[base->id];
  if (r->want < 0) {
    r->reads[r->nreads++] = buf;
    return;
  }
  if (buf != r->want) return;
  r->any = true;
  if (!strides || !r->match || memcmp(strides, r->match, sizeof(int64_t) * (size_t)r->ndim) != 0) r->ok = false;
}

static void scan_step(const MemPlan *mp, const PlanStep *s, ReadScan *r) {
  if (s->kind == STEP_GROUP) {
    fuse_group_reads(mp->fp, s->group, on_read, r);
    return;
  }
  int buf = s->src_buf >= 0 ? s->src_buf
            : mp->fp->node[s->src->id].role == ROLE_CONST ? -1 : plan_buf_of_view(mp, s->src);
  if (buf < 0) return;
  if (r->want < 0) {
    r->reads[r->nreads++] = buf;
  } else if (buf == r->want) {
    r->any = true;
    r->ok = false;
  }
}

static int count_reads(const MemPlan *mp, const PlanStep *s) {
  if (s->kind == STEP_COPY) return 1;
  const FuseGroup *G = &mp->fp->groups[s->group];
  if (G->kind == FG_COPY) return 1;
  int n = 0;
  for (int i = 0; i < G->nmembers; i++) n += G->members[i]->nsrc;
  return n;
}

/* Can update value v (stored by group step si) be written straight into leaf
 * buffer lb?  Only if no later step reads lb and step si itself reads it only
 * at the element it writes (same space strides as v's store). */
static bool in_place_ok(const MemPlan *mp, int si, const IrNode *v, int lb) {
  const FusePlan *fp = mp->fp;
  const PlanStep *s = &mp->steps[si];
  const FuseGroup *G = &fp->groups[s->group];
  int64_t store[IR_MAX_DIMS];
  fuse_space_strides(fp, v, fp->node[v->id].map, G->space.ndim, store);
  for (int i = si; i < mp->nsteps; i++) {
    bool own = i == si;
    ReadScan r = {mp, lb, own && (G->kind == FG_ELEMWISE || G->kind == FG_MATMUL || G->kind == FG_CONV) ? store : NULL,
                  G->space.ndim, true, false, NULL, 0};
    scan_step(mp, &mp->steps[i], &r);
    if (r.any && (!own || !r.ok)) return false;
  }
  return true;
}

static void decide_updates(MemPlan *mp, Build *b, bool *inplace_value) {
  const IrGraph *g = mp->fp->g;
  mp->nsteps = b->steps.len;
  mp->steps = NEW_ARRAY(mp->arena, PlanStep, b->steps.len + 1);
  for (int k = 0; k < b->steps.len; k++) mp->steps[k] = *(PlanStep *)b->steps.items[k];
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    const FuseNode *fv = &mp->fp->node[u->value->id];
    if (fv->role != ROLE_MEMBER || inplace_value[u->value->id]) continue;
    int si = -1;
    for (int k = 0; k < mp->nsteps; k++)
      if (mp->steps[k].kind == STEP_GROUP && mp->steps[k].group == fv->group) si = k;
    int lb = mp->buf_of[u->leaf->id];
    if (in_place_ok(mp, si, u->value, lb)) {
      inplace_value[u->value->id] = true;
      mp->buf_of[u->value->id] = lb;
    }
  }
}

static void collect_leaves(MemPlan *mp, Build *b) {
  const IrGraph *g = mp->fp->g;
  Vec leaves = {0};
  for (int id = 0; id < g->nodes.len; id++)
    if (mp->fp->node[id].role == ROLE_LEAF) {
      mp->buf_of[id] = add_buf(b, leaves.len, shape_numel(((IrNode *)g->nodes.items[id])->shape));
      vec_push(&leaves, g->nodes.items[id]);
    }
  mp->nleaves = leaves.len;
  mp->leaves = NEW_ARRAY(mp->arena, const IrNode *, leaves.len + 1);
  for (int i = 0; i < leaves.len; i++) mp->leaves[i] = leaves.items[i];
  vec_free(&leaves);
}

/* Is output node o readable in place after the run (contiguous, not a leaf)? */
static bool output_direct(const MemPlan *mp, const IrNode *o) {
  const FuseNode *f = &mp->fp->node[o->id];
  if (f->role == ROLE_MEMBER) return true;
  if (f->role != ROLE_VIEW || mp->fp->node[f->base->id].role == ROLE_LEAF) return false;
  int64_t c[IR_MAX_DIMS];
  fuse_contig_strides(o->shape, c);
  for (int d = 0; d < o->shape.ndim; d++)
    if (o->shape.dim[d] != 1 && c[d] != f->stride[d]) return false;
  return true;
}

static bool leaf_based(const MemPlan *mp, const IrNode *o) {
  const FuseNode *f = &mp->fp->node[o->id];
  return f->role == ROLE_LEAF || (f->role == ROLE_VIEW && mp->fp->node[f->base->id].role == ROLE_LEAF);
}

/* ---- offsets ---- */

typedef struct {
  int64_t off, len;  /* a held workspace interval */
} Span;

static int by_off(const void *a, const void *b) {
  const Span *x = a, *y = b;
  return (x->off > y->off) - (x->off < y->off);
}

/* First fit: the lowest offset where len floats overlap no held span. */
static int64_t place(const Span *held, int nheld, int64_t len) {
  Span *sorted = xcalloc((size_t)nheld + 1, sizeof(Span));
  memcpy(sorted, held, sizeof(Span) * (size_t)nheld);
  qsort(sorted, (size_t)nheld, sizeof(Span), by_off);
  int64_t at = 0;
  for (int i = 0; i < nheld && sorted[i].off - at < len; i++)
    if (sorted[i].off + sorted[i].len > at) at = sorted[i].off + sorted[i].len;
  free(sorted);
  return at;
}

static void assign_offsets(MemPlan *mp) {
  int64_t al = mp->align;
  int nb = mp->nbufs;
  int *def = xcalloc((size_t)nb + 1, sizeof(int)), *last = xcalloc((size_t)nb + 1, sizeof(int));
  for (int i = 0; i < nb; i++) def[i] = last[i] = -1;
  for (int si = 0; si < mp->nsteps; si++) {
    const PlanStep *s = &mp->steps[si];
    if (s->kind == STEP_COPY) {
      if (def[s->dst] < 0) def[s->dst] = si;
    } else {
      const FuseGroup *G = &mp->fp->groups[s->group];
      for (int m = 0; m < G->nmembers; m++)
        if (mp->fp->node[G->members[m]->id].stored) {
          int bf = mp->buf_of[G->members[m]->id];
          if (def[bf] < 0) def[bf] = si;
        }
      if (G->pool && def[mp->buf_of[G->pool->id]] < 0) def[mp->buf_of[G->pool->id]] = si;
    }
    int *reads = xcalloc((size_t)count_reads(mp, s) + 1, sizeof(int));
    ReadScan r = {mp, -1, NULL, 0, true, false, reads, 0};
    scan_step(mp, s, &r);
    for (int k = 0; k < r.nreads; k++) last[reads[k]] = si;
    free(reads);
  }
  for (int i = 0; i < mp->fp->g->outputs.len; i++) last[mp->output_buf[i]] = mp->nsteps;
  int64_t top = 0;
  Span *held = xcalloc((size_t)nb + 2, sizeof(Span));
  int *held_buf = xcalloc((size_t)nb + 2, sizeof(int));
  int nheld = 0;
  for (int si = 0; si < mp->nsteps; si++) {
    for (int bf = 0; bf < nb; bf++) {
      if (mp->bufs[bf].leaf >= 0 || def[bf] != si) continue;
      int64_t len = (mp->bufs[bf].numel + al - 1) / al * al;
      int64_t off = place(held, nheld, len);
      mp->bufs[bf].offset = off;
      held[nheld] = (Span){off, len};
      held_buf[nheld++] = bf;
      if (off + len > top) top = off + len;
    }
    /* release what this step read for the last time (and dead stores) */
    int k = 0;
    for (int i = 0; i < nheld; i++) {
      int bf = held_buf[i];
      bool drop = bf >= 0 && (last[bf] < 0 ? def[bf] <= si : last[bf] <= si) && last[bf] != mp->nsteps;
      if (!drop) held[k] = held[i], held_buf[k++] = bf;
    }
    nheld = k;
  }
  mp->workspace = top;
  free(held);
  free(held_buf);
  free(def);
  free(last);
}

MemPlan *plan_memory(const FusePlan *fp, int align) {
  Arena *arena = arena_new();
  MemPlan *mp = NEW(arena, MemPlan);
  mp->arena = arena;
  mp->fp = fp;
  mp->align = align;
  const IrGraph *g = fp->g;
  int nn = g->nodes.len;
  mp->buf_of = NEW_ARRAY(arena, int, nn + 1);
  for (int id = 0; id < nn; id++) mp->buf_of[id] = -1;
  Build b = {mp, {0}, {0}};
  collect_leaves(mp, &b);
  mp->output_buf = NEW_ARRAY(arena, int, g->outputs.len + 1);
  /* outputs that only depend on leaves are copied before anything runs */
  for (int i = 0; i < g->outputs.len; i++) {
    const IrNode *o = ((IrOutput *)g->outputs.items[i])->node;
    mp->output_buf[i] = -1;
    if (!output_direct(mp, o) && leaf_based(mp, o)) {
      mp->output_buf[i] = add_buf(&b, -1, shape_numel(o->shape));
      add_step(&b, STEP_COPY, -1, o, -1, mp->output_buf[i]);
    }
  }
  for (int gi = 0; gi < fp->ngroups; gi++) add_step(&b, STEP_GROUP, gi, NULL, -1, -1);
  /* update values that are leaves or views are copied out before any final copy */
  int *final_src = xcalloc((size_t)g->updates.len + 1, sizeof(int));
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    final_src[i] = -1;
    if (fp->node[u->value->id].role != ROLE_MEMBER) {
      final_src[i] = add_buf(&b, -1, shape_numel(u->value->shape));
      add_step(&b, STEP_COPY, -1, u->value, -1, final_src[i]);
    }
  }
  /* then in-place updates, so that stored members know their buffers */
  bool *inplace_value = xcalloc((size_t)nn + 1, sizeof(bool));
  decide_updates(mp, &b, inplace_value);
  for (int id = 0; id < nn; id++)
    if (fp->node[id].role == ROLE_MEMBER && fp->node[id].stored && mp->buf_of[id] < 0)
      mp->buf_of[id] = add_buf(&b, -1, shape_numel(((IrNode *)g->nodes.items[id])->shape));
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    if (final_src[i] >= 0 || mp->buf_of[u->value->id] == mp->buf_of[u->leaf->id]) continue;
    final_src[i] = mp->buf_of[u->value->id];
  }
  for (int i = 0; i < g->outputs.len; i++) {
    const IrNode *o = ((IrOutput *)g->outputs.items[i])->node;
    if (mp->output_buf[i] >= 0) continue;
    if (output_direct(mp, o)) {
      mp->output_buf[i] = plan_buf_of_view(mp, o);
    } else {
      mp->output_buf[i] = add_buf(&b, -1, shape_numel(o->shape));
      add_step(&b, STEP_COPY, -1, o, -1, mp->output_buf[i]);
    }
  }
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    if (final_src[i] >= 0) add_step(&b, STEP_COPY, -1, u->value, final_src[i], mp->buf_of[u->leaf->id]);
  }
  free(final_src);
  free(inplace_value);
  mp->nsteps = b.steps.len;
  mp->steps = NEW_ARRAY(arena, PlanStep, b.steps.len + 1);
  for (int i = 0; i < b.steps.len; i++) mp->steps[i] = *(PlanStep *)b.steps.items[i];
  mp->nbufs = b.bufs.len;
  mp->bufs = NEW_ARRAY(arena, PlanBuf, b.bufs.len + 1);
  for (int i = 0; i < b.bufs.len; i++) mp->bufs[i] = *(PlanBuf *)b.bufs.items[i];
  vec_free(&b.steps);
  vec_free(&b.bufs);
  assign_offsets(mp);
  return mp;
}

void plan_free(MemPlan *mp) {
  if (mp) arena_free(mp->arena);
}

void plan_print(FILE *out, const MemPlan *mp) {
  fprintf(out, "workspace %lld floats\n", (long long)mp->workspace);
  for (int i = 0; i < mp->nsteps; i++) {
    const PlanStep *s = &mp->steps[i];
    if (s->kind == STEP_GROUP)
      fprintf(out, "step %d: kernel %d\n", i, s->group);
    else
      fprintf(out, "step %d: copy %s -> buf %d\n", i, op_info[s->src->op].name, s->dst);
  }
  for (int i = 0; i < mp->nbufs; i++) {
    const PlanBuf *pb = &mp->bufs[i];
    if (pb->leaf >= 0)
      fprintf(out, "buf %d: leaf %s [%lld]\n", i, mp->leaves[pb->leaf]->name, (long long)pb->numel);
    else
      fprintf(out, "buf %d: workspace +%lld [%lld]\n", i, (long long)pb->offset, (long long)pb->numel);
  }
}
