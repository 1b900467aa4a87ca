/* ir: nnc's intermediate representation, a DAG of float tensor ops.
 *
 * Every value is a float tensor with a static shape.  Nodes are immutable and
 * hash-consed: building an op that already exists with the same sources and
 * attributes returns the existing node, so lowering and gradient rules can build
 * freely and common subexpressions collapse.  Sources are always created before
 * their users, so creation order (node->id) is a topological order.
 *
 * A graph has outputs (named values the caller reads: "loss", "logits", ...) and
 * updates (a persistent leaf, PARAM or STATE, and the value it takes after the
 * step).  A train-step graph is forward + gradients + optimizer updates; an
 * evaluation graph has no updates.
 *
 * The batch dimension is explicit here: an input of per-sample shape [784]
 * is an IR input of shape [B,784] where B is the graph's batch size.
 *
 * Shape errors inside the builder are compiler bugs (die); sema checks user
 * programs before lowering.  ir_broadcast_shape lets checkers ask first.
 */
#ifndef NNC_IR_H
#define NNC_IR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "util.h"

enum { IR_MAX_DIMS = 6 };

typedef struct {
  int ndim;                 /* 0 for a scalar */
  int dim[IR_MAX_DIMS];     /* dim[0] is the outermost (row-major) */
} Shape;

typedef enum {
  OPK_LEAF,      /* no sources */
  OPK_UNARY,     /* elementwise, one source */
  OPK_BINARY,    /* elementwise, two sources, broadcasting */
  OPK_SELECT,    /* where(c, a, b), broadcasting */
  OPK_REDUCE,    /* reduction over a set of axes */
  OPK_MOVE,      /* reshape / expand / transpose: moves elements, no arithmetic */
  OPK_MATMUL,    /* 2-D matrix product with optional transposes */
  OPK_RAND,      /* counter-based uniform random numbers */
  OPK_WINDOW,    /* convolutions and pools: sliding windows over the last two axes of [B,C,H,W] */
  OPK_RANGE,     /* slice / pad: the range [start, start + n) of one axis of the larger side */
} OpKind;

typedef enum {
#define OP(id, name, kind, arity, attrs, doc) OP_##id,
#include "ops.def"
#undef OP
  OP_COUNT
} IrOp;

/* How a PARAM or STATE leaf gets its first value. */
typedef enum {
  INIT_ZEROS,     /* all 0 */
  INIT_CONST,     /* all a */
  INIT_VALUES,    /* values[0..numel) given in the source */
  INIT_NORMAL,    /* N(a, b^2): mean a, std b */
  INIT_UNIFORM,   /* U[a, b) */
  INIT_XAVIER,    /* N(0, 2/(fan_in+fan_out)) (Glorot) */
  INIT_KAIMING,   /* N(0, 2/fan_in) (He) */
} InitKind;

typedef struct {
  InitKind kind;          /* which rule */
  double a, b;            /* rule parameters, see InitKind */
  int fan_in, fan_out;    /* for XAVIER/KAIMING: first and last dim by default */
  const double *values;   /* INIT_VALUES: numel values, row-major */
} IrInit;

/* The sliding window of convolutions and pools (OPK_WINDOW ops): output
 * position (oh, ow) covers input rows oh*stride[0] - pad[0] + i*dilation[0]
 * for i < size[0], and columns likewise with index 1 (pad[1] left, pad[2]
 * bottom, pad[3] right). */
typedef struct {
  int32_t size[2];        /* window rows, columns (a convolution's: its filter's) */
  int32_t stride[2];      /* step between windows */
  int32_t pad[4];         /* top, left, bottom, right: rows/columns outside the input */
  int32_t dilation[2];    /* step between a window's taps */
  int32_t groups;         /* convolutions: channel groups (1: every output sees every input channel) */
} IrWindow;

enum { IR_ATTR_WORDS = 12 };   /* 32-bit words of a node's attribute block */

typedef struct IrNode IrNode;
struct IrNode {
  int id;                 /* index in graph->nodes; creation (= topological) order */
  IrOp op;                /* what it computes */
  int nsrc;               /* number of sources, op_info[op].arity */
  IrNode *src[3];         /* operands */
  Shape shape;            /* output shape */
  /* Attributes: one block, read through the member of the node's kind.  It
   * is hashed, compared and copied as words, and printed through the op's
   * schema (op_info[op].attrs), so a new op with attributes needs a member
   * here and a schema in ops.c, nothing else.  Words a kind does not use are
   * zero. */
  union {
    uint32_t attr_words[IR_ATTR_WORDS];  /* the generic view */
    double value;           /* CONST: the scalar (every NaN is one NaN) */
    unsigned axes;          /* REDUCE: bit k set = axis k reduced (kept with size 1) */
    int perm[IR_MAX_DIMS];  /* TRANSPOSE: output axis k is input axis perm[k] */
    struct {
      bool ta, tb;          /* MATMUL: transpose a, transpose b */
    };
    struct {
      uint32_t seed;        /* RAND: stream id, distinct per dropout site */
      uint32_t first;       /* RAND: the index of element 0 (a shard of a batch draws the
                               numbers its samples have in the whole batch) */
    };
    IrWindow win;           /* WINDOW: convolution and pool geometry */
    struct {
      int32_t axis, start;  /* RANGE: the axis, and where the smaller side starts along it in the larger */
    } range;
  };
  const char *name;       /* INPUT/PARAM/STATE: unique name ("h1.w", "adam.m/h1.w") */
  IrInit init;            /* PARAM/STATE: initializer */
  /* provenance, for printing and error messages */
  Loc loc;                /* source place that produced it ({0} if none) */
  const char *label;      /* source value it belongs to ("h1", "loss", "grad h1.w") or NULL */
};

typedef struct {
  const char *name;       /* "loss", "logits", ... */
  IrNode *node;           /* its value */
} IrOutput;

typedef struct {
  IrNode *leaf;           /* a PARAM or STATE leaf */
  IrNode *value;          /* its value after the step, same shape */
} IrUpdate;

/* A graph lives in its arena: the node, output and update lists are arena
 * arrays that only ir.c appends to (never vec_push or vec_free them), so
 * arena_free releases everything. */
typedef struct IrGraph {
  Arena *arena;           /* owns nodes, names, attribute arrays */
  const char *name;       /* "model.train", "model.eval", ... */
  int batch;              /* batch size B of the inputs; 0 for graphs without inputs */
  Vec nodes;              /* IrNode*, indexed by id */
  IrNode **buckets;       /* hash-consing table, nbuckets slots, open addressing */
  int nbuckets;           /* power of two */
  Vec outputs;            /* IrOutput* in declaration order */
  Vec updates;            /* IrUpdate* in declaration order */
  Loc cur_loc;            /* provenance stamped on nodes created from now on */
  const char *cur_label;  /* likewise */
} IrGraph;

/* ---- the op table (ops.c): every op's rules side by side ---- */
typedef struct GradCtx GradCtx;   /* grad.h */

/* One printed attribute of an op's schema. */
typedef enum {
  AF_END,        /* terminates a schema */
  AF_NUMBER,     /* a double, printed bare (%.9g): CONST's value */
  AF_AXES,       /* a bitmask of axes, printed name=[0,2] */
  AF_INTS,       /* count ints, printed name=[1,2] (count 0: as many as the node's axes) */
  AF_FLAG,       /* a bool, printed as its name when set */
  AF_UINT,       /* an unsigned int, printed name=N */
  AF_UINT_NZ,    /* an unsigned int, printed name=N unless it is 0 */
} AttrFormat;

typedef struct {
  const char *name;       /* as printed */
  AttrFormat format;      /* how */
  int offset;             /* bytes into the attribute block */
  int count;              /* AF_INTS: how many */
} AttrField;

typedef struct {
  const char *name;       /* text form, "reduce_sum" */
  OpKind kind;            /* shape and evaluation family */
  int arity;              /* number of sources */
  const AttrField *attrs; /* its attributes, in printing order (AF_END-terminated) */
  const char *doc;        /* one-line semantics (ops.def) */
  /* Evaluator rule for UNARY/BINARY/SELECT: out = scalar(a, b, c) in double.
   * For REDUCE: combine(acc, x), starting from `identity`. */
  double (*scalar)(double a, double b, double c);
  double identity;        /* REDUCE only */
  /* Gradient (VJP) rule: given node n and the adjoint g of its output, add the
   * adjoint contributions of n's sources with grad_accum.  NULL only for leaves. */
  void (*grad)(GradCtx *G, IrNode *n, IrNode *g);
} OpInfo;
extern const OpInfo op_info[OP_COUNT];

/* ---- shapes ---- */
int64_t shape_numel(Shape s);
bool shape_eq(Shape a, Shape b);
Shape shape_of(int ndim, const int *dims);
Shape shape_scalar(void);
Shape shape_1(int d0);
Shape shape_2(int d0, int d1);
/* numpy broadcasting of a and b; false if they do not broadcast */
bool ir_broadcast_shape(Shape a, Shape b, Shape *out);
/* "[64,784]" into buf (at least 96 bytes); returns buf */
char *shape_str(Shape s, char *buf);

/* ---- building ---- */
IrGraph *ir_graph_new(Arena *a, const char *name, int batch);
IrNode *ir_input(IrGraph *g, const char *name, Shape s);
IrNode *ir_param(IrGraph *g, const char *name, Shape s, IrInit init);
IrNode *ir_state(IrGraph *g, const char *name, Shape s, IrInit init);
IrNode *ir_const(IrGraph *g, double v);
IrNode *ir_unary(IrGraph *g, IrOp op, IrNode *a);
IrNode *ir_binary(IrGraph *g, IrOp op, IrNode *a, IrNode *b);
IrNode *ir_where(IrGraph *g, IrNode *c, IrNode *a, IrNode *b);
IrNode *ir_reduce(IrGraph *g, IrOp op, IrNode *a, unsigned axes);
IrNode *ir_reshape(IrGraph *g, IrNode *a, Shape s);
IrNode *ir_expand(IrGraph *g, IrNode *a, Shape s);
IrNode *ir_transpose(IrGraph *g, IrNode *a, const int *perm);
IrNode *ir_matmul(IrGraph *g, IrNode *a, IrNode *b, bool ta, bool tb);
IrNode *ir_rand(IrGraph *g, IrNode *counter, Shape s, uint32_t seed);
/* ir_rand whose element i draws number first + i of the stream. */
IrNode *ir_rand_from(IrGraph *g, IrNode *counter, Shape s, uint32_t seed, uint32_t first);
/* A window op (OPK_WINDOW) on a and b (b NULL for the one-source pools).
 * s is the result shape of the ops whose shape the sources do not fix
 * (conv2d_data, conv2d_filter, the unpools), ignored otherwise; a
 * convolution's win.size is taken from its filter. */
IrNode *ir_window(IrGraph *g, IrOp op, IrNode *a, IrNode *b, IrWindow win, Shape s);
/* slice: a's elements [start, start + n) along axis.  pad: a placed at
 * [start, start + a's size) along an axis of n elements, 0 elsewhere.  Each
 * is the other's adjoint; concat is a sum of pads. */
IrNode *ir_slice(IrGraph *g, IrNode *a, int axis, int start, int n);
IrNode *ir_pad(IrGraph *g, IrNode *a, int axis, int start, int n);
/* Positions of a window along an axis of n elements (0 when none fits). */
int ir_window_count(int n, int size, int stride, int pad_lo, int pad_hi, int dilation);
/* Whether a pool's windows are disjoint (stride at least the size on both
 * axes) and unpadded: each input position lies in at most one window. */
bool ir_window_disjoint(const IrWindow *w);
/* Rebuilds node n (any op) with new sources in graph g, same attributes.
 * The new node carries n's provenance (loc, label); leaves are found or made
 * by name (CONST by value), so src may be NULL for them. */
IrNode *ir_rebuild(IrGraph *g, const IrNode *n, IrNode *const *src);
void ir_output(IrGraph *g, const char *name, IrNode *node);
void ir_update(IrGraph *g, IrNode *leaf, IrNode *value);
IrNode *ir_find_output(const IrGraph *g, const char *name);
IrNode *ir_find_leaf(const IrGraph *g, IrOp op, const char *name);

/* ---- reading ---- */
/* live[id] = node is reachable from an output or an update (caller frees). */
bool *ir_live(const IrGraph *g);
/* The stable text form (docs/ir.md): dense numbering of live nodes in creation
 * order, %.9g floats, provenance comments. */
void ir_print(FILE *out, const IrGraph *g);
/* Graphviz dot of the live nodes. */
void ir_print_dot(FILE *out, const IrGraph *g);

/* ---- the reference evaluator (eval.c): plain C loops in double ----
 * vals[id] must hold numel doubles for every INPUT/PARAM/STATE leaf the live
 * nodes use; ir_eval fills every other live node's buffer (allocated in
 * `scratch`), and also every dead node's whose leaves have values, so nodes
 * that are not outputs can be read.  A buffer present on entry is kept as
 * the node's value (not recomputed).  Slow and obviously correct: the oracle
 * for generated code. */
void ir_eval(const IrGraph *g, double **vals, Arena *scratch);

/* The counter-based generator behind OP_RAND, shared by the evaluator and the
 * code generator so both produce the same bits. */
static inline uint32_t ir_rand_bits(uint32_t seed, uint32_t counter, uint32_t index) {
  uint32_t h = seed * 0x9E3779B1u ^ counter * 0x85EBCA77u ^ index * 0xC2B2AE3Du;
  h ^= h >> 16; h *= 0x7FEB352Du;
  h ^= h >> 15; h *= 0x846CA68Bu;
  h ^= h >> 16;
  return h;
}
static inline float ir_rand_uniform(uint32_t seed, uint32_t counter, uint32_t index) {
  return (float)(ir_rand_bits(seed, counter, index) >> 8) * (1.0f / 16777216.0f);
}

/* ---- passes ---- */
/* New graph with constant folding, algebraic identities, CSE and dead-code
 * removal applied (simplify.c).  Outputs, updates and leaves are kept. */
IrGraph *ir_simplify(const IrGraph *g);

#endif
