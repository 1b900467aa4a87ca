/* builtins: the one table of every function the language knows.
 *
 * Each entry gives a builtin's name, its kind (which decides where it may
 * appear), its parameters (positional order, names, types, defaults, range
 * rules), a shape rule used by sema and a lowering function used by lower, side
 * by side, so adding a layer or an activation is one table entry plus its two
 * small functions.  Initializers, optimizers and data sources share the same
 * argument checking; sema reads their values into config structs.
 *
 * Also declared here: the pieces of sema and lower that the rules call
 * (reporting an error, registering a layer parameter, batch-aware IR helpers).
 */
#ifndef NNC_BUILTINS_H
#define NNC_BUILTINS_H

#include "ir.h"
#include "sema.h"

typedef enum {
  BK_MATH,         /* elementwise math and matmul */
  BK_ACTIVATION,   /* elementwise or per-sample nonlinearity */
  BK_LAYER,        /* creates parameters or state (dense, batch_norm, ...) */
  BK_REDUCTION,    /* sum/mean/max/min over per-sample axes */
  BK_SHAPE,        /* flatten, reshape, concat, slice, transpose */
  BK_LOSS,         /* per-sample loss */
  BK_REGULARIZER,  /* scalar penalty over the weight matrices */
  BK_INITIALIZER,  /* param values: zeros, normal(...), ... */
  BK_OPTIMIZER,    /* the optimizer statement */
  BK_DATA,         /* data sources in the train block */
  BK_SCHEDULE,     /* learning-rate schedules in the train block */
} BuiltinKind;

typedef enum {
  AT_TENSOR,   /* any expression */
  AT_NUM,      /* constant number (constant expressions like 1/255 allowed) */
  AT_INT,      /* constant integer */
  AT_BOOL,     /* true or false */
  AT_STR,      /* string literal */
  AT_SHAPE,    /* list of positive integers (one may be -1 in reshape) */
  AT_INIT,     /* initializer: name, call or number */
  AT_PAIR,     /* constant integer for both spatial axes, or [rows, columns] */
  AT_PAD,      /* an AT_PAIR, or "same" (keep the size) or "valid" (no padding) */
  AT_AXES,     /* list of constant integers (axes, negative from the end), kept in `shape` */
} ArgType;

typedef enum {
  R_ANY,       /* no constraint */
  R_POS,       /* > 0 */
  R_NONNEG,    /* >= 0 */
  R_UNIT,      /* in [0, 1) */
} ArgRange;

enum { BUILTIN_MAX_PARAMS = 12 };

typedef struct {
  const char *name;   /* parameter name (also the keyword for named passing) */
  ArgType type;       /* what it accepts */
  const char *def;    /* default (number, true/false, initializer or string text); NULL = required; "" = none */
  ArgRange range;     /* checked on numbers */
} BuiltinParam;

/* One argument after checking, in table order. */
struct ArgVal {
  bool present;          /* has a value (given or from a default) */
  bool given;            /* written in the call */
  Loc loc;               /* where it was written (the call if defaulted) */
  const AstNode *ast;    /* its expression when given, for messages */
  Expr *x;               /* AT_TENSOR */
  double num;            /* AT_NUM, AT_INT, AT_BOOL (0/1) */
  const char *str;       /* AT_STR */
  Shape shape;           /* AT_SHAPE; AT_AXES (ndim = how many, dim = the axes) */
  IrInit init;           /* AT_INIT (fan_in/fan_out filled by the layer) */
  int pair[2];           /* AT_PAIR, AT_PAD: rows, columns */
  bool same;             /* AT_PAD: "same" was given (pair is then 0, 0) */
};

typedef struct SemaCtx SemaCtx;     /* sema.c */
typedef struct LowerCtx LowerCtx;   /* below */

struct Builtin {
  const char *name;                 /* as written in source */
  BuiltinKind kind;                 /* where it may appear */
  int npos;                         /* how many leading params may be positional */
  BuiltinParam params[BUILTIN_MAX_PARAMS];   /* terminated by a NULL name */
  /* Shape rule: sets e->type from e->args (tensor args already checked);
   * reports and returns false on a user error.  NULL: scalar, unbatched. */
  bool (*check)(SemaCtx *S, Expr *e);
  /* Lowering: x[i] is the IR value of tensor arg i (NULL for others). */
  IrNode *(*lower)(LowerCtx *L, const Expr *e, IrNode *const *x);
  int tag;                          /* entry-specific: the IrOp of simple math, reductions and regularizers,
                                       the InitKind, OptimKind, DataFormat or ScheduleKind, NORM_LAYER/NORM_BATCH */
  const char *doc;                  /* formula / one-line meaning (docs, --help) */
};

extern const Builtin builtin_table[];
extern const int builtin_count;

const Builtin *builtin_find(const char *name);
/* Index of parameter `name` in b->params, or -1. */
int builtin_param_index(const Builtin *b, const char *name);
/* The checked argument of e named `name` (must exist: a table/code mismatch dies). */
const ArgVal *builtin_arg(const Expr *e, const char *name);
const char *builtin_kind_name(BuiltinKind k);
/* The builtin of that kind whose name `name` is a plausible typo of (for "did
 * you mean"), or NULL. */
const char *builtin_closest(const char *name, BuiltinKind kind);
/* The per-sample type of a @ b (also matmul(a, b)); reports and returns false
 * when the shapes do not fit.  an, bn: the operands' names when they are
 * plain names (NULL otherwise), so the message can say which values. */
bool builtin_matmul_type(SemaCtx *S, Loc at, Type a, const char *an, Type b, const char *bn, Type *out);
/* Reports that a and b do not broadcast under operator or function `what`
 * ("'+'", "maximum"): which axis fails, and the rule. */
void builtin_broadcast_error(SemaCtx *S, Loc at, const char *what, Type a, const char *an, Type b, const char *bn);

/* The image layers (builtins_conv.c): shape rules and lowerings. */
bool builtin_check_conv2d(SemaCtx *S, Expr *e);
bool builtin_check_pool2d(SemaCtx *S, Expr *e);
bool builtin_check_global_avg_pool(SemaCtx *S, Expr *e);
IrNode *builtin_lower_conv2d(LowerCtx *L, const Expr *e, IrNode *const *x);
IrNode *builtin_lower_pool2d(LowerCtx *L, const Expr *e, IrNode *const *x);
IrNode *builtin_lower_global_avg_pool(LowerCtx *L, const Expr *e, IrNode *const *x);

/* ---- sema services for shape rules (sema.c) ---- */
void sema_error(SemaCtx *S, Loc at, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* A warning and a note after it: the program is accepted, but probably not
 * what was meant. */
void sema_warning(SemaCtx *S, Loc at, const char *fmt, ...) PRINTF_LIKE(3, 4);
void sema_note(SemaCtx *S, Loc at, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* The checked value of binding `ref` (an EX_LET's target). */
const Expr *sema_binding_value(SemaCtx *S, int ref);
/* Registers a parameter "<layer>.<suffix>" owned by e; returns its index. */
int sema_add_param(SemaCtx *S, Expr *e, const char *suffix, Shape s, IrInit init);
/* Next dropout site index. */
int sema_new_site(SemaCtx *S);
/* Writes the shape as "[28,28]" (or "class(10)" for class targets) into buf[96]. */
char *sema_type_str(Type t, char *buf);
/* Source text of an argument, "x" for flatten(x) hints (arena string). */
const char *sema_arg_text(SemaCtx *S, const ArgVal *v);

/* ---- lowering context and batch-aware IR helpers (lower.c) ---- */
struct LowerCtx {
  const Model *m;        /* what is lowered */
  IrGraph *g;            /* where nodes go */
  bool training;         /* dropout active, batch_norm on batch statistics */
  int batch;             /* B, or 0 when the model has no batch axis */
  int first;             /* the batch is samples first.. of a larger batch it is a shard of
                            (dropout draws the numbers of the larger batch); else 0 */
  IrNode **params;       /* IR leaf of each Model param */
  IrNode **inputs;       /* IR leaf of each Model input */
  IrNode **targets;      /* IR leaf of each Model target */
  IrNode **bindings;     /* lowered value of each binding (NULL until lowered) */
  IrNode *step;          /* STATE "step" counter, created by the first dropout */
};

/* The IR shape of a value of type t: [B, per-sample...] when batched. */
Shape lower_ir_shape(const LowerCtx *L, Type t);
/* Elementwise op on two typed values; per-sample shapes broadcast. */
IrNode *lower_elementwise(LowerCtx *L, IrOp op, IrNode *a, Type ta, IrNode *b, Type tb);
/* Per-sample matrix product (the `@` rule; shapes checked by sema). */
IrNode *lower_matmul(LowerCtx *L, IrNode *a, Type ta, IrNode *b, Type tb);
/* Reduction over the per-sample axes in `axes` (bit k = per-sample axis k),
 * reduced axes dropped from the result when !keep. */
IrNode *lower_reduce(LowerCtx *L, IrOp op, IrNode *x, Type t, unsigned axes, bool keep);
/* Mean over the per-sample axes in `axes`, kept with size 1. */
IrNode *lower_mean(LowerCtx *L, IrNode *x, Type t, unsigned axes);
/* x reshaped to s (x itself when it already has shape s). */
IrNode *lower_reshape(LowerCtx *L, IrNode *x, Shape s);
/* Shorthands over L->g. */
IrNode *lower_num(LowerCtx *L, double v);
IrNode *lower_add(LowerCtx *L, IrNode *a, IrNode *b);
IrNode *lower_sub(LowerCtx *L, IrNode *a, IrNode *b);
IrNode *lower_mul(LowerCtx *L, IrNode *a, IrNode *b);
IrNode *lower_div(LowerCtx *L, IrNode *a, IrNode *b);

#endif
