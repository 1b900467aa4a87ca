/* sema_internal: what sema.c and sema_train.c share (not for other stages).
 *
 * SemaCtx is the checker's whole state: the model being built (as growable
 * arrays until sema_check copies them into the arena), the symbol table and the
 * naming context of the statement being checked.
 */
#ifndef NNC_SEMA_INTERNAL_H
#define NNC_SEMA_INTERNAL_H

#include "builtins.h"
#include "sema.h"

typedef enum {
  SYM_INPUT,    /* index into inputs */
  SYM_TARGET,   /* index into targets */
  SYM_PARAM,    /* index into params */
  SYM_LET,      /* index into bindings */
} SymKind;

typedef struct {
  const char *name;   /* declared name */
  SymKind kind;       /* what it names */
  int index;          /* into the matching Model array */
  int stmt;           /* statement that defines it */
  Loc loc;            /* where the name is written */
  bool defined;       /* its statement has been checked */
  bool poisoned;      /* its declaration had an error: uses of it are not
                         checked, so that one mistake gives one message */
} Symbol;

enum { SEMA_MAX_STAGES = 8 };   /* a statement's shapes in the summary; more join the last */

struct SemaCtx {
  Arena *a;             /* the Model's arena */
  Diag *d;              /* where errors go */
  const AstProgram *p;  /* what is checked */
  Model *m;             /* being filled */
  Symbol *syms;         /* every declared name, in statement order */
  int nsyms;            /* number of symbols */
  int stmt;             /* index of the statement being checked */
  Loc stmt_loc;         /* its location */
  Vec inputs, targets, params, bindings;   /* ModelValue*, ModelValue*, ModelParam*, ModelBinding* */
  int cur_binding;      /* binding that owns new layer params; -1 in the loss */
  const char *prefix;   /* layer name prefix of this statement ("h1", "loss") */
  int nlayers;          /* parameterized layers named in this statement so far */
  char kind[48];        /* summary kind text of this statement ("dense+relu") */
  struct { char kind[48]; Shape shape; } stage[SEMA_MAX_STAGES];   /* kind by result shape */
  int nstages;          /* stages of this statement so far */
  int ndropout;         /* dropout sites so far */
  Loc optim_loc;        /* the optimizer statement, once seen */
  Loc loss_loc;         /* the loss statement, once seen */
  double lr_override;   /* lr from the train block (> 0 when given) */
};

bool sema_const_eval(const AstNode *n, double *out);
bool sema_shape(SemaCtx *S, const AstNode *n, bool allow_hole, Shape *out, const char *what);
bool sema_init(SemaCtx *S, const AstNode *n, IrInit *out);
/* Binds n's arguments (n may be an AST_NAME: no arguments) to b's parameters
 * and runs b's shape rule.  NULL after reporting an error. */
Expr *sema_call(SemaCtx *S, const AstNode *n, const Builtin *b);
/* Checks an expression; NULL after reporting an error. */
Expr *sema_expr(SemaCtx *S, const AstNode *n);
/* The optimizer statement, the train block (sema_train.c). */
void sema_optimizer(SemaCtx *S, const Stmt *st);
void sema_train(SemaCtx *S, const Stmt *st);

#endif
