/* fuse: kernel grouping (see fuse.h for the contract).
 *
 * Three passes over the live nodes.  First, forwards from each row-wise
 * reduction (some reduced axis innermost), a row group collects the later
 * reductions over the same axes of the same space and the elementwise nodes
 * that read its members at a row or at a point of the space (cross-entropy:
 * logsumexp, sum(y*x), their difference, the softmax-minus-target row), as
 * long as nothing they read depends on the group.  Then backwards (users
 * before sources), each other computed node joins the group of one of its
 * users when the users in that group all see it through the same index map,
 * it has as many elements as the group's space (or its rows), and any user
 * outside the group comes after the group's root (the node is then stored
 * for them, e.g. a pre-activation that the backward pass reads); otherwise it
 * starts a group of its own.  A matrix product may join an elementwise group
 * whose space is exactly its output (it becomes that group's producer and the
 * rest its epilogue); its operands never join (the product reads them as
 * views, in any order).  Forwards, every node that is not computed in a loop
 * gets its buffer (base) and strides: leaves and stored members own a
 * contiguous buffer, transposes and expands permute or zero strides, a
 * reshape of a contiguous view is free and a reshape of anything else becomes
 * a copy group.  Last, groups are ordered topologically by the buffers they
 * read (ties by root id).  A row group may hold members read by other groups
 * before its root, so the order is not root order; should the groups ever
 * form a cycle, the graph is grouped again without row groups.
 */
#include "fuse.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  int *count;        /* per node: live users */
  int **list;        /* per node: user ids (a user appears once per operand slot) */
} Users;

void fuse_contig_strides(Shape s, int64_t *out) {
  int64_t st = 1;
  for (int d = s.ndim - 1; d >= 0; d--) {
    out[d] = s.dim[d] == 1 ? 0 : st;
    st *= s.dim[d];
  }
}

static bool is_contiguous(Shape s, const int64_t *stride) {
  int64_t c[IR_MAX_DIMS];
  fuse_contig_strides(s, c);
  for (int d = 0; d < s.ndim; d++)
    if (s.dim[d] != 1 && stride[d] != c[d]) return false;
  return true;
}

static void identity_map(Shape s, int *map) {
  for (int d = 0; d < s.ndim; d++) map[d] = s.dim[d] == 1 ? -1 : d;
}

/* A reduction computed row by row: logsumexp (two passes over a row), or one
 * whose innermost non-unit input axis is reduced.  Others (bias gradients,
 * column sums) keep their innermost axis and combine in memory order. */
static bool row_reduction(const IrNode *x) {
  if (op_info[x->op].kind != OPK_REDUCE) return false;
  if (x->op == OP_LOGSUMEXP) return true;
  Shape s = x->src[0]->shape;
  for (int d = s.ndim - 1; d >= 0; d--)
    if (s.dim[d] != 1) return x->axes >> d & 1u;
  return true;
}

/* The space with its reduced axes set to 1: the shape of a row result. */
static Shape row_shape(Shape space, unsigned axes) {
  for (int d = 0; d < space.ndim; d++)
    if (axes >> d & 1u) space.dim[d] = 1;
  return space;
}

void fuse_src_map(const IrNode *u, const int *umap, int k, int *out) {
  const IrNode *s = u->src[k];
  switch (op_info[u->op].kind) {
  case OPK_REDUCE:                  /* the reduction's input is the space itself */
    identity_map(s->shape, out);
    return;
  case OPK_MATMUL:
  case OPK_WINDOW:
  case OPK_RANGE:
  case OPK_RAND:                    /* operands, windows, ranges and counters are not indexed by the space */
    for (int d = 0; d < s->shape.ndim; d++) out[d] = -1;
    return;
  default:
    break;
  }
  if (u->op == OP_TRANSPOSE) {
    for (int d = 0; d < u->shape.ndim; d++) out[u->perm[d]] = umap[d];
    for (int d = 0; d < s->shape.ndim; d++)
      if (s->shape.dim[d] == 1) out[d] = -1;
    return;
  }
  /* elementwise broadcasting and expand: sources aligned on the right */
  int off = u->shape.ndim - s->shape.ndim;
  for (int d = 0; d < s->shape.ndim; d++) out[d] = s->shape.dim[d] == 1 ? -1 : umap[d + off];
}

bool fuse_is_contraction(const IrNode *n) {
  return n->op == OP_MATMUL || n->op == OP_CONV2D || n->op == OP_CONV2D_DATA || n->op == OP_CONV2D_FILTER;
}

static GroupKind contraction_kind(const IrNode *n) { return n->op == OP_MATMUL ? FG_MATMUL : FG_CONV; }

void fuse_space_strides(const FusePlan *fp, const IrNode *n, const int *map, int space_ndim, int64_t *out) {
  const FuseNode *f = &fp->node[n->id];
  for (int d = 0; d < space_ndim; d++) out[d] = 0;
  for (int k = 0; k < n->shape.ndim; k++)
    if (map[k] >= 0) out[map[k]] += f->stride[k];
}

static Users users_of(const IrGraph *g, const bool *live) {
  int n = g->nodes.len;
  Users u = {xcalloc((size_t)n + 1, sizeof(int)), xcalloc((size_t)n + 1, sizeof(int *))};
  for (int id = 0; id < n; id++) {
    const IrNode *x = g->nodes.items[id];
    if (!live[id]) continue;
    for (int k = 0; k < x->nsrc; k++) u.count[x->src[k]->id]++;
  }
  int *fill = xcalloc((size_t)n + 1, sizeof(int));
  for (int id = 0; id < n; id++) u.list[id] = xcalloc((size_t)u.count[id] + 1, sizeof(int));
  for (int id = 0; id < n; id++) {
    const IrNode *x = g->nodes.items[id];
    if (!live[id]) continue;
    for (int k = 0; k < x->nsrc; k++) {
      int s = x->src[k]->id;
      u.list[s][fill[s]++] = id;
    }
  }
  free(fill);
  return u;
}

static void users_free(Users *u, int n) {
  for (int id = 0; id < n; id++) free(u->list[id]);
  free(u->list);
  free(u->count);
}

/* Outputs and update values must be in memory after the step. */
static bool *external_uses(const IrGraph *g) {
  bool *ext = xcalloc((size_t)g->nodes.len + 1, sizeof(bool));
  for (int i = 0; i < g->outputs.len; i++) ext[((IrOutput *)g->outputs.items[i])->node->id] = true;
  for (int i = 0; i < g->updates.len; i++) ext[((IrUpdate *)g->updates.items[i])->value->id] = true;
  return ext;
}

typedef struct {
  Vec groups;        /* FuseGroup* while building */
} Builder;

static int new_group(FusePlan *fp, Builder *b, GroupKind kind, const IrNode *root, Shape space) {
  FuseGroup *grp = NEW(fp->arena, FuseGroup);
  grp->kind = kind;
  grp->root = root;
  grp->space = space;
  if (kind == FG_REDUCE) {
    grp->axes = root->axes;
    grp->rowwise = row_reduction(root);
  }
  vec_push(&b->groups, grp);
  return b->groups.len - 1;
}

/* Can n join group grp?  Users inside grp must all see n through one map
 * (returned in map); users outside are allowed only after grp's root, so
 * ordering groups by root id still runs grp first (n is then stored). */
static bool can_join(const FusePlan *fp, Builder *b, const Users *us, const IrNode *n, int grp, int *map,
                     bool *outside) {
  const IrGraph *g = fp->g;
  FuseGroup *G = b->groups.items[grp];
  bool have_map = false;
  *outside = false;
  for (int i = 0; i < us->count[n->id]; i++) {
    const IrNode *u = g->nodes.items[us->list[n->id][i]];
    const FuseNode *fu = &fp->node[u->id];
    if (fu->role != ROLE_MEMBER || fu->group != grp) {
      if (u->id < G->root->id) return false;
      *outside = true;
      continue;
    }
    if (u->op == OP_MATMUL || u->op == OP_RAND || op_info[u->op].kind == OPK_WINDOW || op_info[u->op].kind == OPK_RANGE)
      return false;
    for (int k = 0; k < u->nsrc; k++) {
      if (u->src[k] != n) continue;
      int m[IR_MAX_DIMS];
      fuse_src_map(u, fu->map, k, m);
      if (have_map && memcmp(m, map, sizeof(int) * (size_t)n->shape.ndim) != 0) return false;
      memcpy(map, m, sizeof m);
      have_map = true;
    }
  }
  if (G->kind == FG_COPY) return false;
  if (shape_numel(n->shape) != shape_numel(G->space)) {
    /* a row-wise group computes a value of its rows once per row */
    Shape rs = row_shape(G->space, G->axes);
    if (!G->rowwise || shape_numel(n->shape) != shape_numel(rs)) return false;
    for (int d = 0; d < n->shape.ndim; d++)
      if (map[d] >= 0 && (G->axes >> map[d] & 1u)) return false;
  }
  if (fuse_is_contraction(n)) {
    int id[IR_MAX_DIMS];
    identity_map(n->shape, id);
    if (G->kind != FG_ELEMWISE || !shape_eq(n->shape, G->space) ||
        memcmp(id, map, sizeof(int) * (size_t)n->shape.ndim) != 0)
      return false;
  }
  /* a pool finds its window, a slice or pad its source element, from the
   * point's coordinates, which only elementwise loops and epilogues give it */
  if ((op_info[n->op].kind == OPK_WINDOW || op_info[n->op].kind == OPK_RANGE) && G->kind == FG_REDUCE) return false;
  return true;
}

/* The group n joins (the first of its users' groups that can take it), or -1. */
static int join_target(const FusePlan *fp, Builder *b, const Users *us, const IrNode *n, int *map, bool *outside) {
  if (n->op == OP_RESHAPE || op_info[n->op].kind == OPK_REDUCE) return -1;
  for (int i = 0; i < us->count[n->id]; i++) {
    const FuseNode *fu = &fp->node[us->list[n->id][i]];
    if (fu->role == ROLE_MEMBER && can_join(fp, b, us, n, fu->group, map, outside)) return fu->group;
  }
  return -1;
}

static void make_member(FusePlan *fp, const IrNode *x, int grp) {
  FuseNode *f = &fp->node[x->id];
  f->role = ROLE_MEMBER;
  f->group = grp;
  identity_map(x->shape, f->map);
}

/* Row groups, forwards from each row-wise reduction not yet in one.  A later
 * node joins when it is a reduction over the same axes of the same space, or
 * an elementwise node (or expand) reading a member whose shape is the space's
 * or the rows' (so its index map is the identity and it is computed once per
 * point or per row), and nothing it reads depends on the group (`taint`:
 * members and everything computed from them outside the group), so the
 * group can run before every outside reader of its members. */
static void row_groups(FusePlan *fp, Builder *b, const bool *live, const bool *constlike) {
  const IrGraph *g = fp->g;
  int n = g->nodes.len;
  bool *taint = xcalloc((size_t)n + 1, sizeof(bool));
  for (int seed = 0; seed < n; seed++) {
    const IrNode *r = g->nodes.items[seed];
    if (!live[seed] || fp->node[seed].role == ROLE_MEMBER || !row_reduction(r)) continue;
    int grp = new_group(fp, b, FG_REDUCE, r, r->src[0]->shape);
    FuseGroup *G = b->groups.items[grp];
    Shape rs = row_shape(G->space, G->axes);
    make_member(fp, r, grp);
    memset(taint, 0, sizeof(bool) * (size_t)n);
    taint[seed] = true;
    for (int id = seed + 1; id < n; id++) {
      const IrNode *x = g->nodes.items[id];
      if (!live[id] || constlike[id]) continue;
      bool reads_member = false, reads_taint = false;
      for (int k = 0; k < x->nsrc; k++) {
        const FuseNode *fs = &fp->node[x->src[k]->id];
        if (fs->role == ROLE_MEMBER && fs->group == grp) reads_member = true;
        else if (taint[x->src[k]->id]) reads_taint = true;
      }
      OpKind k = op_info[x->op].kind;
      bool pointwise = k == OPK_UNARY || k == OPK_BINARY || k == OPK_SELECT || x->op == OP_EXPAND;
      bool joins = !reads_taint && fp->node[id].role != ROLE_MEMBER &&
                   ((k == OPK_REDUCE && x->axes == G->axes && shape_eq(x->src[0]->shape, G->space)) ||
                    (reads_member && pointwise && (shape_eq(x->shape, G->space) || shape_eq(x->shape, rs))));
      if (joins) {
        make_member(fp, x, grp);
        G->root = x;
      }
      taint[id] = joins || reads_member || reads_taint;
    }
  }
  free(taint);
}

static void assign_roles(FusePlan *fp, Builder *b, const bool *live, bool rows) {
  const IrGraph *g = fp->g;
  int n = g->nodes.len;
  Users us = users_of(g, live);
  bool *ext = external_uses(g);
  bool *constlike = xcalloc((size_t)n + 1, sizeof(bool));
  for (int id = 0; id < n; id++) {
    const IrNode *x = g->nodes.items[id];
    if (!live[id]) continue;
    bool c = x->op == OP_CONST || (op_info[x->op].kind == OPK_MOVE && constlike[x->src[0]->id]);
    for (int i = 0; c && i < us.count[id]; i++)
      if (((IrNode *)g->nodes.items[us.list[id][i]])->op == OP_MATMUL) c = false;
    constlike[id] = c;
  }
  for (int id = 0; id < n; id++) fp->node[id].group = -1;
  if (rows) row_groups(fp, b, live, constlike);
  for (int id = n - 1; id >= 0; id--) {
    const IrNode *x = g->nodes.items[id];
    FuseNode *f = &fp->node[id];
    if (!live[id]) continue;
    if (f->role == ROLE_MEMBER) {   /* in a row group: stored if read elsewhere */
      f->stored = ext[id];
      for (int i = 0; i < us.count[id]; i++) {
        const FuseNode *fu = &fp->node[us.list[id][i]];
        if (fu->role != ROLE_MEMBER || fu->group != f->group) f->stored = true;
      }
      continue;
    }
    if (constlike[id] && !ext[id]) {
      f->role = ROLE_CONST;
      continue;
    }
    if (op_info[x->op].kind == OPK_LEAF && x->op != OP_CONST) {
      f->role = ROLE_LEAF;
      continue;
    }
    int map[IR_MAX_DIMS];
    bool outside;
    int grp = join_target(fp, b, &us, x, map, &outside);
    if (grp >= 0) {
      f->role = ROLE_MEMBER;
      f->group = grp;
      f->stored = ext[id] || outside;
      memcpy(f->map, map, sizeof map);
      if (fuse_is_contraction(x)) {
        FuseGroup *G = b->groups.items[grp];
        G->kind = contraction_kind(x);
        G->mm = x;
      }
      continue;
    }
    if (op_info[x->op].kind == OPK_MOVE && !constlike[x->src[0]->id]) {
      f->role = ROLE_VIEW;
      continue;
    }
    f->role = ROLE_MEMBER;
    f->stored = true;
    identity_map(x->shape, f->map);
    if (op_info[x->op].kind == OPK_REDUCE) {
      f->group = new_group(fp, b, FG_REDUCE, x, x->src[0]->shape);
    } else if (fuse_is_contraction(x)) {
      f->group = new_group(fp, b, contraction_kind(x), x, x->shape);
      ((FuseGroup *)b->groups.items[f->group])->mm = x;
    } else {
      f->group = new_group(fp, b, FG_ELEMWISE, x, x->shape);
    }
  }
  free(constlike);
  free(ext);
  users_free(&us, n);
}

/* Forwards: buffers and strides of leaves, stored members and views. */
static void resolve_views(FusePlan *fp, Builder *b, const bool *live) {
  const IrGraph *g = fp->g;
  for (int id = 0; id < g->nodes.len; id++) {
    const IrNode *x = g->nodes.items[id];
    FuseNode *f = &fp->node[id];
    if (!live[id]) continue;
    if (f->role == ROLE_LEAF || (f->role == ROLE_MEMBER && f->stored)) {
      f->base = x;
      fuse_contig_strides(x->shape, f->stride);
      continue;
    }
    if (f->role != ROLE_VIEW) continue;
    const FuseNode *s = &fp->node[x->src[0]->id];
    Shape ss = x->src[0]->shape;
    if (!s->base) die("fuse: view of %s without a buffer", op_info[x->src[0]->op].name);
    if (x->op == OP_TRANSPOSE) {
      for (int d = 0; d < x->shape.ndim; d++) f->stride[d] = s->stride[x->perm[d]];
      f->base = s->base;
    } else if (x->op == OP_EXPAND) {
      int off = x->shape.ndim - ss.ndim;
      for (int d = 0; d < x->shape.ndim; d++)
        f->stride[d] = d < off || ss.dim[d - off] == 1 ? 0 : s->stride[d - off];
      f->base = s->base;
    } else if (is_contiguous(ss, s->stride)) {
      fuse_contig_strides(x->shape, f->stride);
      f->base = s->base;
    } else {
      f->role = ROLE_MEMBER;
      f->stored = true;
      f->base = x;
      fuse_contig_strides(x->shape, f->stride);
      identity_map(ss, f->map);
      f->group = new_group(fp, b, FG_COPY, x, ss);
    }
  }
}

/* Execution order of the groups (old index per position): a topological
 * order of "reads a buffer another group writes", the smallest root id first
 * among the ready ones (so graphs whose root order is topological keep it).
 * false when the groups form a cycle. */
static bool order_groups(const FusePlan *fp, const Builder *b, const bool *live, int *order) {
  const IrGraph *g = fp->g;
  int ng = b->groups.len;
  int *from = NULL, *to = NULL, ne = 0, cap = 0;   /* edges: group from writes what group to reads */
  int *indeg = xcalloc((size_t)ng + 1, sizeof(int));
  for (int id = 0; id < g->nodes.len; id++) {
    const FuseNode *f = &fp->node[id];
    if (!live[id] || f->role != ROLE_MEMBER) continue;
    const IrNode *x = g->nodes.items[id];
    for (int k = 0; k < x->nsrc; k++) {
      const FuseNode *fs = &fp->node[x->src[k]->id];
      if ((fs->role == ROLE_MEMBER && fs->group == f->group) || !fs->base) continue;
      const FuseNode *fb = &fp->node[fs->base->id];
      if (fb->role != ROLE_MEMBER || fb->group == f->group) continue;
      if (ne == cap) {
        cap = cap ? 2 * cap : 64;
        from = xrealloc(from, sizeof(int) * (size_t)cap);
        to = xrealloc(to, sizeof(int) * (size_t)cap);
      }
      from[ne] = fb->group, to[ne++] = f->group;
      indeg[f->group]++;
    }
  }
  bool *done = xcalloc((size_t)ng + 1, sizeof(bool));
  int n = 0;
  for (; n < ng; n++) {
    int best = -1;
    for (int i = 0; i < ng; i++) {
      const FuseGroup *G = b->groups.items[i];
      if (!done[i] && indeg[i] == 0 && (best < 0 || G->root->id < ((FuseGroup *)b->groups.items[best])->root->id))
        best = i;
    }
    if (best < 0) break;
    done[best] = true;
    order[n] = best;
    for (int e = 0; e < ne; e++)
      if (from[e] == best) indeg[to[e]]--;
  }
  free(done);
  free(indeg);
  free(from);
  free(to);
  return n == ng;
}

/* Whether group P is a lone max pool that conv2d group G (index gi before
 * renumbering) can run per image: disjoint unpadded windows (the only ones
 * the row kernel computes) over stored members of G shaped like G's space
 * and stored at the same point (an identity map: image u's planes are the
 * ones unit u wrote, not another unit's after a transpose), rows of at most
 * 256 columns (the row kernel unrolls a row's vectors). */
static bool poolable(const FusePlan *fp, const FuseGroup *G, int gi, const FuseGroup *P) {
  const IrNode *u = P->root;
  if (G->kind != FG_CONV || G->mm->op != OP_CONV2D || G->pool || P->kind != FG_ELEMWISE || P->nmembers != 1 ||
      u->op != OP_MAX_POOL2D || !ir_window_disjoint(&u->win))
    return false;
  for (int k = 0; k < u->nsrc; k++) {
    const FuseNode *f = &fp->node[u->src[k]->id];
    if (f->role != ROLE_MEMBER || f->group != gi || !f->stored || !shape_eq(u->src[k]->shape, G->space) ||
        u->src[k]->shape.dim[3] > 256)
      return false;
    for (int d = 0; d < G->space.ndim; d++)
      if (G->space.dim[d] != 1 && f->map[d] != d) return false;
  }
  return true;
}

/* Moves each lone max pool of a conv2d's output into the conv2d's group
 * (fuse.h: `pool`), removing the pool's own group.  The pool's group comes
 * after the conv2d's (it reads it), so running it earlier, inside the
 * conv2d's step, keeps the order topological. */
static void attach_pools(FusePlan *fp) {
  int *new_index = xcalloc((size_t)fp->ngroups + 1, sizeof(int)), n = 0;
  for (int i = 0; i < fp->ngroups; i++) {
    const FuseGroup *P = &fp->groups[i];
    const FuseNode *src = P->nmembers == 1 && P->root->nsrc > 0 ? &fp->node[P->root->src[0]->id] : NULL;
    if (src && src->role == ROLE_MEMBER && src->group < i &&
        poolable(fp, &fp->groups[new_index[src->group]], src->group, P)) {
      fp->groups[new_index[src->group]].pool = P->root;
      new_index[i] = new_index[src->group];
      continue;
    }
    new_index[i] = n;
    fp->groups[n++] = *P;
  }
  for (int id = 0; id < fp->g->nodes.len; id++)
    if (fp->node[id].role == ROLE_MEMBER) fp->node[id].group = new_index[fp->node[id].group];
  fp->ngroups = n;
  free(new_index);
}

FusePlan *fuse_graph(const IrGraph *g) {
  Arena *arena = arena_new();
  FusePlan *fp = NEW(arena, FusePlan);
  fp->arena = arena;
  fp->g = g;
  bool *live = ir_live(g);
  Builder b = {0};
  int *order = NULL;
  for (int rows = 1; rows >= 0; rows--) {
    fp->node = NEW_ARRAY(arena, FuseNode, g->nodes.len + 1);
    b.groups.len = 0;
    assign_roles(fp, &b, live, rows);
    resolve_views(fp, &b, live);
    free(order);
    order = xcalloc((size_t)b.groups.len + 1, sizeof(int));
    if (order_groups(fp, &b, live, order)) break;
    if (!rows) die("fuse: kernels form a cycle");
  }
  /* renumber the members' group indices in execution order */
  int ng = b.groups.len;
  int *old_index = xcalloc((size_t)ng + 1, sizeof(int));
  fp->ngroups = ng;
  fp->groups = NEW_ARRAY(arena, FuseGroup, ng + 1);
  for (int i = 0; i < ng; i++) {
    old_index[order[i]] = i;
    fp->groups[i] = *(FuseGroup *)b.groups.items[order[i]];
    fp->groups[i].nmembers = 0;
  }
  for (int id = 0; id < g->nodes.len; id++)
    if (live[id] && fp->node[id].role == ROLE_MEMBER) {
      fp->node[id].group = old_index[fp->node[id].group];
      fp->groups[fp->node[id].group].nmembers++;
    }
  for (int i = 0; i < ng; i++) {
    fp->groups[i].members = NEW_ARRAY(arena, const IrNode *, fp->groups[i].nmembers);
    fp->groups[i].nmembers = 0;
  }
  for (int id = 0; id < g->nodes.len; id++)
    if (live[id] && fp->node[id].role == ROLE_MEMBER) {
      FuseGroup *G = &fp->groups[fp->node[id].group];
      G->members[G->nmembers++] = g->nodes.items[id];
    }
  free(old_index);
  free(order);
  vec_free(&b.groups);
  free(live);
  attach_pools(fp);
  return fp;
}

void fuse_free(FusePlan *fp) {
  if (fp) arena_free(fp->arena);
}

void fuse_group_reads(const FusePlan *fp, int gi, FuseReadFn fn, void *ctx) {
  const FuseGroup *G = &fp->groups[gi];
  int64_t st[IR_MAX_DIMS];
  if (G->kind == FG_COPY) {
    const IrNode *s = G->root->src[0];
    int map[IR_MAX_DIMS];
    identity_map(s->shape, map);
    fuse_space_strides(fp, s, map, G->space.ndim, st);
    fn(ctx, s, fp->node[s->id].base, st);
    return;
  }
  for (int i = 0; i < G->nmembers; i++) {
    const IrNode *u = G->members[i];
    for (int k = 0; k < u->nsrc; k++) {
      const IrNode *s = u->src[k];
      const FuseNode *fs = &fp->node[s->id];
      if ((fs->role == ROLE_MEMBER && fs->group == gi) || fs->role == ROLE_CONST) continue;
      if (u->op == OP_MATMUL || op_info[u->op].kind == OPK_WINDOW || op_info[u->op].kind == OPK_RANGE) {   /* any order */
        fn(ctx, s, fs->base, NULL);
        continue;
      }
      int map[IR_MAX_DIMS];
      fuse_src_map(u, fp->node[u->id].map, k, map);
      fuse_space_strides(fp, s, map, G->space.ndim, st);
      fn(ctx, s, fs->base, st);
    }
  }
}

static const char *const kind_names[] = {
    [FG_ELEMWISE] = "elementwise", [FG_REDUCE] = "reduce", [FG_MATMUL] = "matmul", [FG_CONV] = "conv",
    [FG_COPY] = "copy"};

void fuse_print(FILE *out, const FusePlan *fp) {
  const IrGraph *g = fp->g;
  bool *live = ir_live(g);
  int *dense = xcalloc((size_t)g->nodes.len + 1, sizeof(int));
  for (int id = 0, k = 0; id < g->nodes.len; id++)
    if (live[id]) dense[id] = k++;
  for (int i = 0; i < fp->ngroups; i++) {
    const FuseGroup *G = &fp->groups[i];
    char buf[96];
    fprintf(out, "kernel %d %s %s:", i, kind_names[G->kind], shape_str(G->space, buf));
    for (int m = 0; m < G->nmembers; m++) {
      const IrNode *x = G->members[m];
      fprintf(out, " %%%d=%s%s", dense[x->id], op_info[x->op].name, fp->node[x->id].stored ? "*" : "");
    }
    if (G->pool) fprintf(out, " then %%%d=%s* per image", dense[G->pool->id], op_info[G->pool->op].name);
    fputc('\n', out);
  }
  free(dense);
  free(live);
}
