/* sema: checks a parsed .nn program and turns it into a Model.
 *
 * In:  the AST from parse_program.
 * Out: a Model (in the caller's arena) holding everything later stages need:
 *      inputs, targets, parameters (with shapes and initializers), the let
 *      bindings as checked expression trees (Expr), the loss, the prediction
 *      output, and the optimizer and training settings (config.h).
 *
 * Every expression gets a Type: its per-sample shape (the batch dimension is
 * implicit in the language) and whether it depends on the batch (inputs and
 * targets do, parameters and constants do not).  Calls are checked against the
 * one builtin table (builtins.c).  User errors go to the Diag, several per run;
 * sema_check returns NULL when any error was reported.
 *
 * Invariants of a returned Model: every name is resolved, every shape checked,
 * the loss is a per-sample scalar, parameter names are unique, and all config
 * values are in range, so lowering (lower.h) never meets a user error.
 */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H

#include <stdint.h>
#include <stdio.h>

#include "ast.h"
#include "config.h"
#include "ir.h"

typedef struct Builtin Builtin;   /* builtins.h */
typedef struct ArgVal ArgVal;     /* builtins.h */

/* What sema knows about a value. */
typedef struct {
  Shape shape;      /* per-sample shape (no batch axis) */
  bool batched;     /* depends on an input or target, so the IR value has a leading batch axis */
  int nclasses;     /* > 0: a class target, one-hot with nclasses entries (shape [nclasses]) */
} Type;

typedef enum {
  EX_NUM,      /* number literal: num */
  EX_INPUT,    /* reference to model input `ref` */
  EX_TARGET,   /* reference to model target `ref` */
  EX_PARAM,    /* reference to model parameter `ref` */
  EX_LET,      /* reference to let binding `ref` */
  EX_NEG,      /* -lhs */
  EX_BINARY,   /* lhs op rhs, op one of + - * / ^ @ */
  EX_CALL,     /* fn(args): a builtin of an expression kind */
} ExprKind;

typedef struct Expr Expr;
struct Expr {
  ExprKind kind;          /* which of the above */
  Loc loc;                /* source place (for provenance and messages) */
  Type type;              /* checked type */
  double num;             /* EX_NUM */
  int ref;                /* EX_INPUT/TARGET/PARAM/LET: index into the Model's array */
  char op;                /* EX_BINARY */
  Expr *lhs, *rhs;        /* EX_NEG (lhs), EX_BINARY */
  const Builtin *fn;      /* EX_CALL: the builtin */
  ArgVal *args;           /* EX_CALL: one per fn parameter, in table order */
  const char *layer;      /* EX_CALL of a layer: prefix of its parameter names ("h1", "h1_2") */
  int param0;             /* EX_CALL of a layer: its parameters are Model params[param0 ..] */
  int nparams;            /* EX_CALL of a layer: how many */
  int site;               /* EX_CALL of dropout: site index (distinct random stream) */
};

typedef struct {
  const char *name;   /* as declared */
  Shape shape;        /* per-sample shape; [k] for a class target */
  int nclasses;       /* targets: number of classes (one-hot), 0 for real-valued; inputs: 0 */
  const char **class_names;   /* class(k, names = [...]): k names, else NULL */
  Loc loc;            /* declaration */
} ModelValue;

typedef struct {
  const char *name;   /* unique: "a", "h1.w", "h1.b", "norm.gamma" */
  Shape shape;        /* full shape (parameters have no batch axis) */
  IrInit init;        /* first value */
  Loc loc;            /* the param statement or the layer call */
  int binding;        /* let binding that owns it; -1 for `param` statements and the loss */
  int stage;          /* the binding's summary stage of the layer call that made it */
  const char *layer;  /* builtin that created it ("dense") or "param" */
} ModelParam;

/* A run of a binding's builtins whose results have one shape, for the
 * summary: conv2d+relu [32,28,28], then max_pool2d [32,14,14]. */
typedef struct {
  const char *kind;   /* "conv2d+relu" */
  Shape shape;        /* per-sample shape of their results */
} ModelStage;

typedef struct {
  const char *name;   /* bound name */
  const char *kind;   /* summary text: builtins applied, "dense+relu"; "expr" if none */
  Expr *value;        /* checked expression */
  Loc loc;            /* the statement */
  ModelStage *stages; /* the builtins by the shape they give, in the order applied */
  int nstages;
} ModelBinding;

/* A prediction the model reports: `output NAME`, or with several targets
 * one per target, the value its loss term compares with it. */
typedef struct {
  const char *name;   /* the binding it is */
  Expr *value;        /* its expression */
  int target;         /* the target it predicts, or -1 */
} ModelOutput;

typedef struct Model {
  const char *name;           /* `model NAME`, else the file's base name without .nn */
  ModelValue *inputs;         /* input statements in order */
  int ninputs;                /* number of inputs */
  ModelValue *targets;        /* target statements in order */
  int ntargets;               /* number of targets */
  ModelParam *params;         /* param statements and layer parameters, in creation order */
  int nparams;                /* number of parameters */
  ModelBinding *bindings;     /* let bindings in order */
  int nbindings;              /* number of bindings */
  Expr *loss;                 /* the loss expression (per-sample scalar) */
  const char *loss_kind;      /* summary text for the loss row */
  Loc loss_loc;               /* the loss statement */
  Expr *output;               /* the prediction, or NULL */
  const char *output_name;    /* the name it was given by, or NULL */
  ModelOutput *outputs;       /* every output, output first (several heads: one per target) */
  int noutputs;               /* how many (0: no output) */
  int ndropout;               /* dropout sites (each gets its own random stream) */
  OptimConfig optim;          /* optimizer (default sgd, lr 0.01, when absent) */
  TrainConfig train;          /* training settings with defaults filled in */
  bool has_train;             /* a train block was given */
} Model;

/* Checks p; NULL if any error was reported to d. */
Model *sema_check(const AstProgram *p, Arena *a, Diag *d);

/* Checks the model's sizes with a batch axis of `batch` (the one a command
 * compiles for, after any --batch; 0 for a model without inputs): every
 * batched tensor, the batched values of one step together and all the
 * parameters must fit the limits the runtime can allocate.  false after
 * reporting to d.  Each command calls it (front_check_batch) once it knows
 * its batch size. */
bool sema_check_sizes(const Model *m, int batch, Diag *d);

/* Number of elements of a parameter. */
int64_t model_param_numel(const ModelParam *p);
/* Total trainable parameter count. */
int64_t model_param_count(const Model *m);

/* The per-layer table: name, kind, per-sample shape, parameter count, total. */
void model_print_summary(FILE *out, const Model *m);

#endif
