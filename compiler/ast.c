/* ast: constructors for the parser's actions and the two printers.
 *
 * Constructors allocate in the arena and record each node's depth (its
 * height), which the parser checks against AST_MAX_DEPTH so every later
 * recursive walk, these printers included, has a bounded stack.
 *
 * ast_print writes a stable indented tree, one node per line (--dump-ast and
 * tests compare it as text); numbers use %.9g.  ast_print_expr writes source
 * syntax with only the parentheses the grammar needs, choosing for every
 * number the shortest digits that read back as the same double, so its output
 * parses back to the same tree.
 */
#include "ast.h"

#include <math.h>
#include <stdlib.h>

static AstNode *node(Arena *a, AstKind kind, Loc loc) {
  AstNode *n = NEW(a, AstNode);
  n->kind = kind;
  n->loc = loc;
  n->depth = 1;
  return n;
}

static int max_int(int a, int b) { return a > b ? a : b; }

AstNode *ast_num(Arena *a, Loc loc, double v) {
  AstNode *n = node(a, AST_NUM, loc);
  n->num = v;
  return n;
}

AstNode *ast_str(Arena *a, Loc loc, const char *s) {
  AstNode *n = node(a, AST_STR, loc);
  n->str = s;
  return n;
}

AstNode *ast_name(Arena *a, Loc loc, const char *s) {
  AstNode *n = node(a, AST_NAME, loc);
  n->str = s;
  return n;
}

AstNode *ast_binary(Arena *a, Loc loc, char op, AstNode *lhs, AstNode *rhs) {
  AstNode *n = node(a, AST_BINARY, loc);
  n->op = op;
  n->lhs = lhs;
  n->rhs = rhs;
  n->depth = 1 + max_int(lhs->depth, rhs->depth);
  return n;
}

AstNode *ast_neg(Arena *a, Loc loc, AstNode *x) {
  AstNode *n = node(a, AST_NEG, loc);
  n->lhs = x;
  n->depth = 1 + x->depth;
  return n;
}

AstNode *ast_call(Arena *a, Loc loc, const char *callee, AstArg *args, int nargs) {
  AstNode *n = node(a, AST_CALL, loc);
  n->str = callee;
  n->str_loc = loc;
  n->args = args;
  n->nargs = nargs;
  for (int i = 0; i < nargs; i++) n->depth = max_int(n->depth, 1 + args[i].value->depth);
  return n;
}

AstNode *ast_list(Arena *a, Loc loc, AstNode **items, int nitems) {
  AstNode *n = node(a, AST_LIST, loc);
  n->items = items;
  n->nitems = nitems;
  for (int i = 0; i < nitems; i++) n->depth = max_int(n->depth, 1 + items[i]->depth);
  return n;
}

/* A string literal as source text: quotes, the four escapes, \xNN for other
 * control bytes (which the lexer never produces, but a printer must not
 * emit raw). */
static void print_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        fprintf(out, "\\x%02x", *p);
      else
        fputc(*p, out);
    }
  }
  fputc('"', out);
}

static void indent(FILE *out, int depth) { fprintf(out, "%*s", 2 * depth, ""); }

static void print_node(FILE *out, const AstNode *e, int depth);

static void print_args(FILE *out, const AstArg *args, int n, int depth) {
  for (int i = 0; i < n; i++) {
    if (args[i].name) {
      indent(out, depth);
      fprintf(out, "arg %s\n", args[i].name);
      print_node(out, args[i].value, depth + 1);
    } else {
      print_node(out, args[i].value, depth);
    }
  }
}

static void print_node(FILE *out, const AstNode *e, int depth) {
  indent(out, depth);
  switch (e->kind) {
  case AST_NUM: fprintf(out, "num %.9g\n", e->num); break;
  case AST_STR:
    fputs("str ", out);
    print_string(out, e->str);
    fputc('\n', out);
    break;
  case AST_NAME: fprintf(out, "name %s\n", e->str); break;
  case AST_BINARY:
    fprintf(out, "binary %c\n", e->op);
    print_node(out, e->lhs, depth + 1);
    print_node(out, e->rhs, depth + 1);
    break;
  case AST_NEG:
    fputs("neg\n", out);
    print_node(out, e->lhs, depth + 1);
    break;
  case AST_CALL:
    fprintf(out, "call %s\n", e->str);
    print_args(out, e->args, e->nargs, depth + 1);
    break;
  case AST_LIST:
    fputs("list\n", out);
    for (int i = 0; i < e->nitems; i++) print_node(out, e->items[i], depth + 1);
    break;
  }
}

/* Statement keywords as printed, indexed by StmtKind. */
static const char *const stmt_names[] = {
    [ST_MODEL] = "model",   [ST_INPUT] = "input",   [ST_TARGET] = "target",
    [ST_PARAM] = "param",   [ST_LET] = "let",       [ST_LOSS] = "loss",
    [ST_OUTPUT] = "output", [ST_OPTIMIZER] = "optimizer", [ST_TRAIN] = "train",
};

void ast_print(FILE *out, const AstProgram *p) {
  fprintf(out, "program %s\n", p->file ? p->file : "");
  for (int i = 0; i < p->nstmts; i++) {
    const Stmt *s = &p->stmts[i];
    fprintf(out, "  %s", stmt_names[s->kind]);
    if (s->name) fprintf(out, " %s", s->name);
    fputc('\n', out);
    if (s->type) {
      fputs("    type\n", out);
      print_node(out, s->type, 3);
    }
    if (s->value) {
      fputs(s->kind == ST_PARAM ? "    init\n" : "    value\n", out);
      print_node(out, s->value, 3);
    }
    for (int j = 0; j < s->nsettings; j++) {
      fprintf(out, "    setting %s\n", s->settings[j].name);
      print_node(out, s->settings[j].value, 3);
    }
  }
}

/* Binding strength in the grammar: higher binds tighter. */
enum { PREC_ADD = 1, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM };

static int prec(const AstNode *e) {
  if (e->kind == AST_NEG || (e->kind == AST_NUM && signbit(e->num))) return PREC_NEG;
  if (e->kind != AST_BINARY) return PREC_ATOM;
  switch (e->op) {
  case '+': case '-': return PREC_ADD;
  case '^': return PREC_POW;
  default: return PREC_MUL;
  }
}

/* Prints e, parenthesized unless it binds at least as tightly as `need`. */
static void print_operand(FILE *out, const AstNode *e, int need) {
  int paren = prec(e) < need;
  if (paren) fputc('(', out);
  ast_print_expr(out, e);
  if (paren) fputc(')', out);
}

/* The fewest significant digits that read back as exactly v. */
static void print_number(FILE *out, double v) {
  char buf[32];
  for (int digits = 9; digits <= 17; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (strtod(buf, NULL) == v) break;
  }
  fputs(buf, out);
}

void ast_print_expr(FILE *out, const AstNode *e) {
  switch (e->kind) {
  case AST_NUM: print_number(out, e->num); break;
  case AST_STR: print_string(out, e->str); break;
  case AST_NAME: fputs(e->str, out); break;
  case AST_NEG:
    /* The operand of unary minus is itself a unary: -x, - -x, -a^b. */
    fputc('-', out);
    if (e->lhs->kind == AST_NEG) fputc(' ', out);
    print_operand(out, e->lhs, PREC_NEG);
    break;
  case AST_BINARY:
    if (e->op == '^') {
      /* base: an atom only; exponent: any unary (right-associative). */
      print_operand(out, e->lhs, PREC_ATOM);
      fputc('^', out);
      print_operand(out, e->rhs, PREC_NEG);
    } else {
      /* left-associative: the right operand must bind strictly tighter. */
      int p = prec(e);
      print_operand(out, e->lhs, p);
      fprintf(out, " %c ", e->op);
      print_operand(out, e->rhs, p + 1);
    }
    break;
  case AST_CALL:
    fprintf(out, "%s(", e->str);
    for (int i = 0; i < e->nargs; i++) {
      if (i) fputs(", ", out);
      if (e->args[i].name) fprintf(out, "%s = ", e->args[i].name);
      ast_print_expr(out, e->args[i].value);
    }
    fputc(')', out);
    break;
  case AST_LIST:
    fputc('[', out);
    for (int i = 0; i < e->nitems; i++) {
      if (i) fputs(", ", out);
      ast_print_expr(out, e->items[i]);
    }
    fputc(']', out);
    break;
  }
}
