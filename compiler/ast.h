/* ast: the syntax tree of a .nn file, as the parser builds it.
 *
 * The parser only builds; it checks nothing beyond the grammar.  Names, shapes,
 * arities and settings are sema's business.  Everything lives in the arena given
 * to the parser.  Every node and argument keeps its source location so sema can
 * point at the exact token.
 */
#ifndef NNC_AST_H
#define NNC_AST_H

#include <stdio.h>

#include "diag.h"
#include "util.h"

typedef enum {
  AST_NUM,      /* number literal: num */
  AST_STR,      /* string literal: str (escapes resolved) */
  AST_NAME,     /* identifier: str */
  AST_BINARY,   /* lhs op rhs; op is one of + - * / ^ @ */
  AST_NEG,      /* -lhs */
  AST_CALL,     /* str(args...): function call with positional and named args */
  AST_LIST,     /* [items...]: shapes ([784]) and value lists ([1, 2, 3]) */
} AstKind;

typedef struct AstNode AstNode;

typedef struct {
  const char *name;   /* NULL for a positional argument, else the name before '=' */
  Loc loc;            /* where the argument starts (its name, if named) */
  AstNode *value;     /* the argument's expression */
} AstArg;

struct AstNode {
  AstKind kind;       /* which of the above */
  Loc loc;            /* the node's first token; for AST_BINARY the operator */
  double num;         /* AST_NUM */
  const char *str;    /* AST_STR text, AST_NAME identifier, AST_CALL callee */
  Loc str_loc;        /* AST_CALL: the callee name's place */
  char op;            /* AST_BINARY: '+', '-', '*', '/', '^', '@' */
  AstNode *lhs;       /* AST_BINARY left operand; AST_NEG operand */
  AstNode *rhs;       /* AST_BINARY right operand */
  AstArg *args;       /* AST_CALL arguments, in source order */
  int nargs;          /* AST_CALL number of arguments */
  AstNode **items;    /* AST_LIST elements */
  int nitems;         /* AST_LIST number of elements */
  int depth;          /* height of this subtree (1 for a leaf); set by the constructors */
};

/* The parser rejects expressions nested deeper than this, so every recursive
 * walk over an expression (printing, sema, lowering) has a bounded stack. */
enum { AST_MAX_DEPTH = 1000 };

typedef enum {
  ST_MODEL,      /* model NAME */
  ST_INPUT,      /* input NAME : TYPE */
  ST_TARGET,     /* target NAME : TYPE */
  ST_PARAM,      /* param NAME [: TYPE] [= INIT] */
  ST_LET,        /* NAME = EXPR */
  ST_LOSS,       /* loss EXPR */
  ST_OUTPUT,     /* output NAME: the model's prediction (default: loss's first argument) */
  ST_OPTIMIZER,  /* optimizer CALL */
  ST_TRAIN,      /* train { KEY = EXPR ... } */
} StmtKind;

typedef struct {
  StmtKind kind;      /* which statement */
  Loc loc;            /* its first token (the keyword, or NAME for ST_LET) */
  const char *name;   /* MODEL/INPUT/TARGET/PARAM/LET/OUTPUT name, else NULL */
  Loc name_loc;       /* where name is */
  AstNode *type;      /* INPUT/TARGET/PARAM after ':': AST_LIST shape or AST_CALL like class(10); NULL if none */
  AstNode *value;     /* PARAM init, LET/LOSS expression, OPTIMIZER call; NULL if none */
  AstArg *settings;   /* TRAIN: key = value pairs, all named */
  int nsettings;      /* TRAIN: number of settings */
} Stmt;

typedef struct {
  const char *file;   /* file name as given */
  Stmt *stmts;        /* statements in source order */
  int nstmts;         /* number of statements */
} AstProgram;

/* Parses src into an AST in arena a.  Syntax errors go to d (several per run
 * where recovery is sensible); returns NULL only if nothing usable was parsed.
 * Check diag_errors(d) after. */
AstProgram *parse_program(const Source *src, Arena *a, Diag *d);

/* Constructors used by the parser's actions. */
AstNode *ast_num(Arena *a, Loc loc, double v);
AstNode *ast_str(Arena *a, Loc loc, const char *s);
AstNode *ast_name(Arena *a, Loc loc, const char *s);
AstNode *ast_binary(Arena *a, Loc loc, char op, AstNode *lhs, AstNode *rhs);
AstNode *ast_neg(Arena *a, Loc loc, AstNode *x);
/* args/items are kept (not copied): allocate them in the same arena. */
AstNode *ast_call(Arena *a, Loc loc, const char *callee, AstArg *args, int nargs);
AstNode *ast_list(Arena *a, Loc loc, AstNode **items, int nitems);

/* Prints the AST in a stable, indented text form (for --dump-ast and tests). */
void ast_print(FILE *out, const AstProgram *p);
/* Prints one expression in source-like syntax, fully parenthesized where
 * needed; used in diagnostics and IR comments. */
void ast_print_expr(FILE *out, const AstNode *e);

#endif
