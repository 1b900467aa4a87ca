/* fuse: groups the live nodes of an IR graph into kernels (no code here).
 *
 * In: an IrGraph.  Out: a FusePlan saying, for every node, how the back end
 * treats it (a constant folded into the code, a bound leaf buffer, a member
 * computed inside a group, or a view: elements of another node's buffer reached
 * through strides), and the groups in execution order.
 *
 * A group is one loop nest over its iteration space:
 *   FG_ELEMWISE  elementwise ops (with transposes/expands as index maps) over
 *                the root's shape; intermediates stay in registers;
 *   FG_REDUCE    reductions over one set of axes of one input shape (the
 *                space), with their elementwise producers inline; a row-wise
 *                one (some reduced axis innermost: softmax, cross-entropy,
 *                layer norm) also holds several such reductions and the
 *                elementwise nodes that consume their per-row results, at the
 *                row (kept axes) or at every point of the space;
 *   FG_MATMUL    a matrix product whose elementwise consumers (bias add,
 *                activation, ...) run on the output tile (the epilogue);
 *   FG_CONV      a convolution (conv2d or one of its adjoints) with its
 *                elementwise epilogue likewise; a conv2d may also pool its
 *                stored output, image by image, after the epilogue (`pool`);
 *   FG_COPY      a reshape of a non-contiguous view, copied to its own buffer.
 * Invariants: every member (but a pool) has exactly one index map from the group's space (a
 * node reached two ways becomes a group root) and the same element count as
 * the space (or, in a row-wise group, as its rows), so no element is computed
 * twice; a member read outside its group is stored; groups are in a
 * topological order of the buffers they read and write.
 */
#ifndef NNC_FUSE_H
#define NNC_FUSE_H

#include "ir.h"

typedef enum {
  ROLE_DEAD,     /* not live: no code */
  ROLE_CONST,    /* CONST or a move of one: folded into the code */
  ROLE_LEAF,     /* INPUT/PARAM/STATE: a caller-bound buffer */
  ROLE_MEMBER,   /* computed inside group `group` */
  ROLE_VIEW,     /* not computed: elements of base's buffer at `stride` */
} NodeRole;

typedef struct {
  NodeRole role;                 /* how the back end treats the node */
  int group;                     /* ROLE_MEMBER: its group; -1 otherwise */
  bool stored;                   /* MEMBER: value written to its own buffer */
  const IrNode *base;            /* LEAF, stored MEMBER: itself; VIEW: owner of the buffer; else NULL */
  int64_t stride[IR_MAX_DIMS];   /* per own axis, element stride into base's buffer (0: broadcast) */
  int map[IR_MAX_DIMS];          /* MEMBER: own axis -> group space axis, -1 for size-1 axes */
} FuseNode;

typedef enum {
  FG_ELEMWISE,   /* elementwise loop over the root's shape */
  FG_REDUCE,     /* reductions over `axes` of the space (their input shape) */
  FG_MATMUL,     /* `mm` is a MATMUL; space is its [M,N]; root the epilogue's sink */
  FG_CONV,       /* `mm` is a convolution; space is its output shape; root the epilogue's sink */
  FG_COPY,       /* root is a RESHAPE copied from its non-contiguous source */
} GroupKind;

typedef struct {
  GroupKind kind;              /* loop structure */
  const IrNode *root;          /* the member created last; stored */
  const IrNode *mm;            /* FG_MATMUL, FG_CONV: the contraction, else NULL */
  Shape space;                 /* iteration space */
  unsigned axes;               /* FG_REDUCE: the reduced axes of the space */
  bool rowwise;                /* FG_REDUCE: kept axes outside, reduced inside (else the
                                  innermost axis is kept: combined in memory order) */
  const IrNode *pool;          /* FG_CONV of a conv2d: a max pool with disjoint, unpadded windows
                                  of a stored member, run on each image's planes right after
                                  the epilogue wrote them (still in cache); a stored member
                                  of the group but not in members[], which share the space */
  int nmembers;                /* members, in id order (root last) */
  const IrNode **members;      /* arena array */
} FuseGroup;

typedef struct {
  const IrGraph *g;            /* the graph annotated */
  FuseNode *node;              /* indexed by node id */
  int ngroups;                 /* groups, in execution order */
  FuseGroup *groups;           /* arena array */
  Arena *arena;                /* owns everything above */
} FusePlan;

/* A matrix product or a convolution: a group's producer, whose operands are
 * read as views in any order and never join its group. */
bool fuse_is_contraction(const IrNode *n);

/* Groups g's live nodes.  Never fails: every graph has a plan. */
FusePlan *fuse_graph(const IrGraph *g);
void fuse_free(FusePlan *fp);

/* Index map of source `k` of member u (u's map given): the map the source
 * would have if evaluated at the same point of the space. */
void fuse_src_map(const IrNode *u, const int *umap, int k, int *out);

/* Strides over the group space of node n's elements read through n's view
 * (n must have a base) at map `map`. */
void fuse_space_strides(const FusePlan *fp, const IrNode *n, const int *map, int space_ndim, int64_t *out);

/* Contiguous row-major strides of a shape (size-1 axes get 0). */
void fuse_contig_strides(Shape s, int64_t *out);

/* Every read of a buffer by group gi: calls fn(ctx, node, base, strides over
 * the space) for each non-member, non-constant source read in the loop.  The
 * operands of a matrix product are reported with NULL strides (read in any
 * order). */
typedef void (*FuseReadFn)(void *ctx, const IrNode *n, const IrNode *base, const int64_t *strides);
void fuse_group_reads(const FusePlan *fp, int gi, FuseReadFn fn, void *ctx);

/* The kernels and the nodes each contains, one line per kernel (stable text). */
void fuse_print(FILE *out, const FusePlan *fp);

#endif
