/* sema: name resolution, argument binding against the builtin table, types
 * (per-sample shape + batch dependence) and the model's declarations.
 *
 * Statements are processed in source order: a name is visible from the
 * statement after its definition on.  A first pass records every declared
 * name, so a use before the definition gets its own message instead of
 * "undefined".  Errors are reported and checking goes on with the next
 * statement (an erroneous binding is still defined, so one mistake does not
 * cascade into "undefined name" for every later use).
 *
 * The train block, optimizer and data sources are read in sema_train.c.
 */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "sema_internal.h"

void sema_error(SemaCtx *S, Loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(S->d, at, fmt, ap);
  va_end(ap);
}

void sema_warning(SemaCtx *S, Loc at, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  diag_warning(S->d, at, "%s", msg);
}

void sema_note(SemaCtx *S, Loc at, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  diag_note(S->d, at, "%s", msg);
}

const Expr *sema_binding_value(SemaCtx *S, int ref) {
  return ((const ModelBinding *)S->bindings.items[ref])->value;
}

char *sema_type_str(Type t, char *buf) {
  if (t.nclasses > 0) {
    snprintf(buf, 96, "class(%d)", t.nclasses);
    return buf;
  }
  return shape_str(t.shape, buf);
}

const char *sema_arg_text(SemaCtx *S, const ArgVal *v) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) die("open_memstream failed");
  ast_print_expr(f, v->ast);
  fclose(f);
  const char *r = arena_strdup(S->a, text);
  free(text);
  return r;
}

int sema_new_site(SemaCtx *S) { return S->ndropout++; }

/* Every tensor must fit in memory with its batch axis: 2^24 floats (64 MiB)
 * per sample or parameter. */
enum { SEMA_MAX_ELEMENTS = 1 << 24 };

static bool size_ok(SemaCtx *S, Loc at, Shape s, const char *what) {
  double n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.dim[i];
  if (n <= SEMA_MAX_ELEMENTS) return true;
  sema_error(S, at, "%s would have %.0f elements; a tensor may have at most 2^24 = %d", what, n, SEMA_MAX_ELEMENTS);
  return false;
}

int sema_add_param(SemaCtx *S, Expr *e, const char *suffix, Shape s, IrInit init) {
  const char *name = arena_printf(S->a, "%s.%s", e->layer, suffix);
  for (int i = 0; i < S->params.len; i++) {
    ModelParam *p = S->params.items[i];
    if (strcmp(p->name, name) == 0) {
      sema_error(S, e->loc, "parameter '%s' already exists; give this layer another name=", name);
      break;
    }
  }
  ModelParam *p = NEW(S->a, ModelParam);
  *p = (ModelParam){.name = name, .shape = s, .init = init, .loc = e->loc, .binding = S->cur_binding,
                    .layer = e->fn->name};
  if (e->nparams == 0) e->param0 = S->params.len;
  e->nparams++;
  vec_push(&S->params, p);
  return S->params.len - 1;
}

/* ---- constants ---- */

bool sema_const_eval(const AstNode *n, double *out) {
  double a, b;
  switch (n->kind) {
  case AST_NUM:
    *out = n->num;
    return true;
  case AST_NEG:
    if (!sema_const_eval(n->lhs, &a)) return false;
    *out = -a;
    return true;
  case AST_BINARY:
    if (n->op == '@' || !sema_const_eval(n->lhs, &a) || !sema_const_eval(n->rhs, &b)) return false;
    switch (n->op) {
    case '+': *out = a + b; break;
    case '-': *out = a - b; break;
    case '*': *out = a * b; break;
    case '/': *out = a / b; break;
    default: *out = pow(a, b); break;
    }
    return isfinite(*out);
  default:
    return false;
  }
}

/* A shape literal [d0, d1, ...] of positive integers (or -1 when allow_hole). */
bool sema_shape(SemaCtx *S, const AstNode *n, bool allow_hole, Shape *out, const char *what) {
  if (!n || n->kind != AST_LIST) {
    sema_error(S, n ? n->loc : S->stmt_loc, "%s must be a shape like [28, 28]", what);
    return false;
  }
  if (n->nitems > IR_MAX_DIMS - 1) {   /* one IR axis is left for the batch */
    sema_error(S, n->loc, "%s has %d axes; at most %d are supported", what, n->nitems, IR_MAX_DIMS - 1);
    return false;
  }
  Shape s = {.ndim = n->nitems};
  for (int i = 0; i < n->nitems; i++) {
    double v;
    if (!sema_const_eval(n->items[i], &v) || v != floor(v) || !(v >= 1 || (allow_hole && v == -1))) {
      sema_error(S, n->items[i]->loc, "%s: sizes must be positive integers", what);
      return false;
    }
    if (v > SEMA_MAX_ELEMENTS) {
      sema_error(S, n->items[i]->loc, "%s: size %.*g is too large; a tensor may have at most 2^24 = %d elements",
                 what, v < 1e15 ? 15 : 3, v, SEMA_MAX_ELEMENTS);
      return false;
    }
    s.dim[i] = (int)v;
  }
  if (!size_ok(S, n->loc, s, what)) return false;
  *out = s;
  return true;
}

/* ---- argument binding ---- */

/* Fills an initializer from a name (xavier), a call (normal(0.01)) or a number. */
bool sema_init(SemaCtx *S, const AstNode *n, IrInit *out) {
  double v;
  if (sema_const_eval(n, &v)) {
    *out = (IrInit){.kind = v == 0 ? INIT_ZEROS : INIT_CONST, .a = v};
    return true;
  }
  bool named = n->kind == AST_NAME || n->kind == AST_CALL;
  const Builtin *b = named ? builtin_find(n->str) : NULL;
  if (!b || b->kind != BK_INITIALIZER) {
    const char *near = named && !b ? builtin_closest(n->str, BK_INITIALIZER) : NULL;
    if (near) sema_error(S, n->loc, "unknown initializer '%s'; did you mean '%s'?", n->str, near);
    else
      sema_error(S, n->loc,
                 "expected an initializer (zeros, normal(std), uniform(lo, hi), xavier, kaiming or a number)");
    return false;
  }
  Expr *e = sema_call(S, n, b);
  if (!e) return false;
  *out = (IrInit){.kind = (InitKind)b->tag};
  if (b->tag == INIT_NORMAL) {
    out->a = builtin_arg(e, "mean")->num;
    out->b = builtin_arg(e, "std")->num;
  } else if (b->tag == INIT_UNIFORM) {
    out->a = builtin_arg(e, "lo")->num;
    out->b = builtin_arg(e, "hi")->num;
  }
  return true;
}

static bool check_range(SemaCtx *S, const Builtin *b, const BuiltinParam *bp, Loc at, double v) {
  static const char *const rule[] = {[R_POS] = "must be positive", [R_NONNEG] = "must not be negative",
                                     [R_UNIT] = "must be in [0, 1)"};
  bool ok = bp->range == R_ANY || (bp->range == R_POS && v > 0) || (bp->range == R_NONNEG && v >= 0) ||
            (bp->range == R_UNIT && v >= 0 && v < 1);
  if (!ok) sema_error(S, at, "%s: %s %s, got %g", b->name, bp->name, rule[bp->range], v);
  return ok;
}

/* One integer of a pair argument, checked like an AT_INT. */
static bool pair_item(SemaCtx *S, const Builtin *b, const BuiltinParam *bp, const AstNode *n, int *out) {
  double v;
  if (!sema_const_eval(n, &v) || v != floor(v)) {
    sema_error(S, n->loc, "%s: %s must be an integer or [rows, columns] of integers", b->name, bp->name);
    return false;
  }
  if (fabs(v) > SEMA_MAX_ELEMENTS) {
    sema_error(S, n->loc, "%s: %s = %.0f is too large; a tensor may have at most 2^24 = %d elements", b->name,
               bp->name, v, SEMA_MAX_ELEMENTS);
    return false;
  }
  *out = (int)v;
  return check_range(S, b, bp, n->loc, v);
}

/* AT_PAIR and AT_PAD: 3, [3, 2], and for padding "same" or "valid". */
static bool pair_arg(SemaCtx *S, const Builtin *b, const BuiltinParam *bp, const AstNode *n, ArgVal *v) {
  if (bp->type == AT_PAD && n->kind == AST_STR) {
    v->same = strcmp(n->str, "same") == 0;
    if (v->same || strcmp(n->str, "valid") == 0) return true;
    sema_error(S, n->loc, "%s: %s must be a number, [rows, columns], \"same\" or \"valid\", not \"%s\"", b->name,
               bp->name, n->str);
    return false;
  }
  if (bp->type == AT_PAD && n->kind == AST_NAME && (strcmp(n->str, "same") == 0 || strcmp(n->str, "valid") == 0)) {
    sema_error(S, n->loc, "%s: %s = %s names nothing; the mode is a string: %s = \"%s\"", b->name, bp->name, n->str,
               bp->name, n->str);
    return false;
  }
  if (n->kind != AST_LIST) {
    if (!pair_item(S, b, bp, n, &v->pair[0])) return false;
    v->pair[1] = v->pair[0];
    return true;
  }
  if (n->nitems != 2) {
    sema_error(S, n->loc, "%s: %s takes one number or two, [rows, columns]; got %d", b->name, bp->name, n->nitems);
    return false;
  }
  return pair_item(S, b, bp, n->items[0], &v->pair[0]) && pair_item(S, b, bp, n->items[1], &v->pair[1]);
}

/* AT_AXES: [1, 0, 2], constant integers (the callee checks them against its operand). */
static bool axes_arg(SemaCtx *S, const Builtin *b, const BuiltinParam *bp, const AstNode *n, ArgVal *v) {
  if (n->kind != AST_LIST || n->nitems > IR_MAX_DIMS - 1) {
    sema_error(S, n->loc, "%s: %s must be a list of at most %d axes like [1, 0]", b->name, bp->name, IR_MAX_DIMS - 1);
    return false;
  }
  v->shape.ndim = n->nitems;
  for (int i = 0; i < n->nitems; i++) {
    double a;
    if (!sema_const_eval(n->items[i], &a) || a != floor(a) || fabs(a) > IR_MAX_DIMS) {
      sema_error(S, n->items[i]->loc, "%s: %s must hold axis numbers (integers)", b->name, bp->name);
      return false;
    }
    v->shape.dim[i] = (int)a;
  }
  return true;
}

static bool convert_arg(SemaCtx *S, const Builtin *b, const BuiltinParam *bp, const AstNode *n, ArgVal *v) {
  v->present = true;
  switch (bp->type) {
  case AT_TENSOR:
    v->x = sema_expr(S, n);
    return v->x != NULL;
  case AT_NUM:
  case AT_INT:
    if (!sema_const_eval(n, &v->num)) {
      sema_error(S, n->loc, "%s: %s must be a constant number", b->name, bp->name);
      return false;
    }
    if (bp->type == AT_INT && v->num != floor(v->num)) {
      sema_error(S, n->loc, "%s: %s must be an integer, got %g", b->name, bp->name, v->num);
      return false;
    }
    if (bp->type == AT_INT && fabs(v->num) > SEMA_MAX_ELEMENTS) {
      sema_error(S, n->loc, "%s: %s = %.0f is too large; a tensor may have at most 2^24 = %d elements", b->name,
                 bp->name, v->num, SEMA_MAX_ELEMENTS);
      return false;
    }
    return check_range(S, b, bp, n->loc, v->num);
  case AT_BOOL:
    if (n->kind != AST_NAME || (strcmp(n->str, "true") != 0 && strcmp(n->str, "false") != 0)) {
      sema_error(S, n->loc, "%s: %s must be true or false", b->name, bp->name);
      return false;
    }
    v->num = strcmp(n->str, "true") == 0;
    return true;
  case AT_STR:
    if (n->kind != AST_STR) {
      sema_error(S, n->loc, "%s: %s must be a string in double quotes", b->name, bp->name);
      return false;
    }
    v->str = n->str;
    return true;
  case AT_SHAPE:
    return sema_shape(S, n, true, &v->shape, arena_printf(S->a, "%s: %s", b->name, bp->name));
  case AT_AXES:
    return axes_arg(S, b, bp, n, v);
  case AT_INIT:
    return sema_init(S, n, &v->init);
  case AT_PAIR:
  case AT_PAD:
    return pair_arg(S, b, bp, n, v);
  }
  die("bad argument type");
}

/* The value a parameter takes when not given, from the table's source text. */
static void default_arg(const BuiltinParam *bp, Loc at, ArgVal *v) {
  v->loc = at;
  if (!bp->def[0]) return;
  v->present = true;
  switch (bp->type) {
  case AT_NUM:
  case AT_INT:
    v->num = strtod(bp->def, NULL);
    break;
  case AT_BOOL:
    v->num = strcmp(bp->def, "true") == 0;
    break;
  case AT_STR:
    v->str = bp->def;
    break;
  case AT_INIT:
    v->init = (IrInit){.kind = (InitKind)builtin_find(bp->def)->tag};
    break;
  case AT_PAIR:
  case AT_PAD:
    v->pair[0] = v->pair[1] = (int)strtod(bp->def, NULL);
    break;
  case AT_TENSOR:
  case AT_SHAPE:
  case AT_AXES:
    die("tensor/shape parameter %s with a default", bp->name);
  }
}

static int nparams_of(const Builtin *b) {
  int n = 0;
  while (n < BUILTIN_MAX_PARAMS && b->params[n].name) n++;
  return n;
}

/* "x, units" for arity messages. */
static const char *positional_names(SemaCtx *S, const Builtin *b) {
  const char *s = "";
  for (int i = 0; i < b->npos; i++) s = arena_printf(S->a, "%s%s%s", s, i ? ", " : "", b->params[i].name);
  return s;
}

Expr *sema_call(SemaCtx *S, const AstNode *n, const Builtin *b) {
  int np = nparams_of(b);
  Expr *e = NEW(S->a, Expr);
  *e = (Expr){.kind = EX_CALL, .loc = n->loc, .fn = b, .args = NEW_ARRAY(S->a, ArgVal, np ? np : 1)};
  const AstNode *given[BUILTIN_MAX_PARAMS] = {0};
  bool ok = true;
  int npos = 0;
  for (int i = 0; n->kind == AST_CALL && i < n->nargs; i++) {
    const AstArg *arg = &n->args[i];
    int k;
    if (!arg->name) {
      k = npos++;
      if (k >= b->npos) {
        if (npos == b->npos + 1) {
          if (b->npos == 0) sema_error(S, arg->loc, "%s takes no positional arguments", b->name);
          else
            sema_error(S, arg->loc, "%s takes at most %d positional argument%s (%s)", b->name, b->npos,
                       b->npos == 1 ? "" : "s", positional_names(S, b));
        }
        ok = false;
        continue;
      }
    } else if ((k = builtin_param_index(b, arg->name)) < 0) {
      const char *names[BUILTIN_MAX_PARAMS];
      for (int j = 0; j < np; j++) names[j] = b->params[j].name;
      const char *near = closest_name(arg->name, names, np);
      if (near) sema_error(S, arg->loc, "%s has no parameter '%s'; did you mean '%s'?", b->name, arg->name, near);
      else sema_error(S, arg->loc, "%s has no parameter '%s'", b->name, arg->name);
      ok = false;
      continue;
    }
    if (given[k]) {
      sema_error(S, arg->loc, "%s: argument '%s' given twice", b->name, b->params[k].name);
      ok = false;
      continue;
    }
    given[k] = arg->value;
    e->args[k].given = true;
    e->args[k].loc = arg->loc;
    e->args[k].ast = arg->value;
  }
  for (int k = 0; k < np; k++) {
    const BuiltinParam *bp = &b->params[k];
    if (given[k]) ok &= convert_arg(S, b, bp, given[k], &e->args[k]);
    else if (!bp->def) {
      sema_error(S, n->loc, "%s: missing required argument '%s'", b->name, bp->name);
      ok = false;
    } else default_arg(bp, n->loc, &e->args[k]);
  }
  if (!ok) return NULL;
  if (b->kind == BK_LAYER && builtin_param_index(b, "name") >= 0) {
    const ArgVal *nm = builtin_arg(e, "name");
    if (nm->present && !nm->str[0]) {
      sema_error(S, nm->loc, "%s: name must not be empty", b->name);
      return NULL;
    }
    if (nm->present) e->layer = nm->str;
    else if (S->nlayers++ == 0) e->layer = S->prefix;
    else e->layer = arena_printf(S->a, "%s_%d", S->prefix, S->nlayers);
  }
  e->type = (Type){.shape = shape_scalar()};
  if (b->check && !b->check(S, e)) return NULL;
  for (int i = 0; i < e->nparams; i++) {
    ModelParam *p = S->params.items[e->param0 + i];
    if (!size_ok(S, e->loc, p->shape, p->name)) return NULL;
  }
  if (!size_ok(S, e->loc, e->type.shape, b->name)) return NULL;
  return e;
}

/* ---- expressions ---- */

/* Appends name to kind ("dense" + "relu" -> "dense+relu"), once in a row. */
static void append_kind(char *kind, size_t cap, const char *name) {
  size_t len = strlen(kind);
  const char *last = strrchr(kind, '+');
  last = last ? last + 1 : kind;
  if (strcmp(last, name) == 0) return;
  if (len + strlen(name) + 2 >= cap) return;
  snprintf(kind + len, cap - len, "%s%s", len ? "+" : "", name);
}

/* Appends a builtin's name to the statement's summary kind ("dense+relu"),
 * and to its stage: the last one while the result keeps its shape, else a
 * new one (conv2d+relu [32,28,28], then max_pool2d [32,14,14]). */
static int note_kind(SemaCtx *S, const char *name, Shape shape) {
  append_kind(S->kind, sizeof S->kind, name);
  if (S->nstages == 0 || (!shape_eq(S->stage[S->nstages - 1].shape, shape) && S->nstages < SEMA_MAX_STAGES)) {
    S->stage[S->nstages].kind[0] = 0;
    S->stage[S->nstages++].shape = shape;
  }
  append_kind(S->stage[S->nstages - 1].kind, sizeof S->stage[0].kind, name);
  S->stage[S->nstages - 1].shape = shape;
  return S->nstages - 1;
}

static Symbol *find_sym(SemaCtx *S, const char *name) {
  for (int i = 0; i < S->nsyms; i++)
    if (strcmp(S->syms[i].name, name) == 0) return &S->syms[i];
  return NULL;
}

/* "undefined name 'h3'; did you mean 'h2'?" over visible names and builtins. */
static void undefined(SemaCtx *S, const AstNode *n) {
  Vec cand = {0};
  for (int i = 0; i < S->nsyms; i++)
    if (S->syms[i].defined) vec_push(&cand, (void *)S->syms[i].name);
  for (int i = 0; i < builtin_count; i++)
    if (builtin_table[i].kind <= BK_REGULARIZER) vec_push(&cand, (void *)builtin_table[i].name);
  const char *near = closest_name(n->str, (const char *const *)cand.items, cand.len);
  if (near) sema_error(S, n->loc, "undefined name '%s'; did you mean '%s'?", n->str, near);
  else sema_error(S, n->loc, "undefined name '%s'", n->str);
  vec_free(&cand);
}

static Expr *name_expr(SemaCtx *S, const AstNode *n) {
  Symbol *sym = find_sym(S, n->str);
  if (!sym) {
    const Builtin *b = builtin_find(n->str);
    if (b && b->kind <= BK_REGULARIZER) sema_error(S, n->loc, "'%s' is a function; call it as %s(...)", n->str, n->str);
    else undefined(S, n);
    return NULL;
  }
  if (sym->poisoned) return NULL;   /* its declaration had an error, already reported */
  if (!sym->defined) {
    sema_error(S, n->loc, "'%s' is used before its definition", n->str);
    diag_note(S->d, sym->loc, "'%s' is defined here", n->str);
    return NULL;
  }
  static const ExprKind kinds[] = {[SYM_INPUT] = EX_INPUT, [SYM_TARGET] = EX_TARGET, [SYM_PARAM] = EX_PARAM,
                                   [SYM_LET] = EX_LET};
  Expr *e = NEW(S->a, Expr);
  *e = (Expr){.kind = kinds[sym->kind], .loc = n->loc, .ref = sym->index};
  switch (sym->kind) {
  case SYM_INPUT: {
    ModelValue *v = S->inputs.items[sym->index];
    e->type = (Type){.shape = v->shape, .batched = true};
    break;
  }
  case SYM_TARGET: {
    ModelValue *v = S->targets.items[sym->index];
    e->type = (Type){.shape = v->shape, .batched = true, .nclasses = v->nclasses};
    break;
  }
  case SYM_PARAM:
    e->type = (Type){.shape = ((ModelParam *)S->params.items[sym->index])->shape};
    break;
  case SYM_LET: {
    ModelBinding *bd = S->bindings.items[sym->index];
    if (!bd->value) return NULL;   /* its definition had an error, already reported */
    e->type = bd->value->type;
    break;
  }
  }
  return e;
}

static Expr *call_expr(SemaCtx *S, const AstNode *n) {
  const Builtin *b = builtin_find(n->str);
  if (!b) {
    if (find_sym(S, n->str)) {
      sema_error(S, n->str_loc, "'%s' is a value, not a function", n->str);
      return NULL;
    }
    const char *names[256];
    int nn = 0;
    for (int i = 0; i < builtin_count && nn < (int)COUNT_OF(names); i++) names[nn++] = builtin_table[i].name;
    const char *near = closest_name(n->str, names, nn);
    if (near) sema_error(S, n->str_loc, "unknown function '%s'; did you mean '%s'?", n->str, near);
    else sema_error(S, n->str_loc, "unknown function '%s'", n->str);
    return NULL;
  }
  static const char *const where[] = {
      [BK_INITIALIZER] = "use it as a param's value or a layer's init=",
      [BK_OPTIMIZER] = "use it in the optimizer statement",
      [BK_DATA] = "use it in the train block",
      [BK_SCHEDULE] = "use it in the train block (schedule = ...)",
  };
  if (b->kind > BK_REGULARIZER) {
    const char *kind = builtin_kind_name(b->kind);
    sema_error(S, n->str_loc, "'%s' is %s %s; %s", n->str, strchr("aeiou", kind[0]) ? "an" : "a", kind,
               where[b->kind]);
    return NULL;
  }
  Expr *e = sema_call(S, n, b);
  if (!e) return NULL;
  int stage = note_kind(S, b->name, e->type.shape);
  for (int i = 0; i < e->nparams; i++) ((ModelParam *)S->params.items[e->param0 + i])->stage = stage;
  return e;
}

/* The operand's name when it is written as a plain name, for messages. */
static const char *plain_name(const AstNode *n) { return n->kind == AST_NAME ? n->str : NULL; }

static Expr *binary_expr(SemaCtx *S, const AstNode *n) {
  Expr *l = sema_expr(S, n->lhs), *r = sema_expr(S, n->rhs);
  if (!l || !r) return NULL;
  Expr *e = NEW(S->a, Expr);
  *e = (Expr){.kind = EX_BINARY, .loc = n->loc, .op = n->op, .lhs = l, .rhs = r};
  if (n->op == '@') {
    if (!builtin_matmul_type(S, n->loc, l->type, plain_name(n->lhs), r->type, plain_name(n->rhs), &e->type))
      return NULL;
    note_kind(S, "matmul", e->type.shape);
    return e;
  }
  if (!ir_broadcast_shape(l->type.shape, r->type.shape, &e->type.shape)) {
    char op[4] = {'\'', n->op, '\'', 0};
    builtin_broadcast_error(S, n->loc, op, l->type, plain_name(n->lhs), r->type, plain_name(n->rhs));
    return NULL;
  }
  if (!size_ok(S, n->loc, e->type.shape, "the result")) return NULL;
  e->type.batched = l->type.batched || r->type.batched;
  return e;
}

Expr *sema_expr(SemaCtx *S, const AstNode *n) {
  Expr *e;
  switch (n->kind) {
  case AST_NUM:
    e = NEW(S->a, Expr);
    *e = (Expr){.kind = EX_NUM, .loc = n->loc, .num = n->num};
    return e;
  case AST_NAME:
    return name_expr(S, n);
  case AST_CALL:
    return call_expr(S, n);
  case AST_BINARY:
    return binary_expr(S, n);
  case AST_NEG:
    if (!(e = sema_expr(S, n->lhs))) return NULL;
    Expr *neg = NEW(S->a, Expr);
    *neg = (Expr){.kind = EX_NEG, .loc = n->loc, .lhs = e, .type = e->type};
    neg->type.nclasses = 0;
    return neg;
  case AST_STR:
    sema_error(S, n->loc, "a string is not a value here");
    return NULL;
  case AST_LIST:
    sema_error(S, n->loc, "a list is not a value here; declare it with `param NAME = [...]`");
    return NULL;
  }
  die("bad AST kind %d", n->kind);
}

/* ---- declarations ---- */

/* Shape of a (possibly nested) value list, read along the first items. */
static void list_dims(const AstNode *n, Shape *s) {
  for (; n->kind == AST_LIST && s->ndim < IR_MAX_DIMS; n = n->nitems ? n->items[0] : NULL) {
    s->dim[s->ndim++] = n->nitems;
    if (!n->nitems) return;
  }
}

/* Every row has the length s says and the leaves are constants. */
static bool list_check(SemaCtx *S, const AstNode *n, Shape s, int depth) {
  if (depth == s.ndim) {
    double v;
    if (n->kind == AST_LIST || !sema_const_eval(n, &v)) {
      sema_error(S, n->loc, "list values must be constant numbers in rows of equal length");
      return false;
    }
    return true;
  }
  if (n->kind != AST_LIST || n->nitems != s.dim[depth] || n->nitems == 0) {
    sema_error(S, n->loc, "list values must be constant numbers in rows of equal length");
    return false;
  }
  for (int i = 0; i < n->nitems; i++)
    if (!list_check(S, n->items[i], s, depth + 1)) return false;
  return true;
}

static void list_fill(const AstNode *n, double *out, int *k) {
  for (int i = 0; i < n->nitems; i++) {
    if (n->items[i]->kind == AST_LIST) list_fill(n->items[i], out, k);
    else sema_const_eval(n->items[i], &out[(*k)++]);
  }
}

/* False after reporting an error in the declaration. */
static bool param_stmt(SemaCtx *S, const Stmt *st, ModelParam *p) {
  char b1[96], b2[96];
  bool typed = st->type != NULL;
  if (typed && !sema_shape(S, st->type, false, &p->shape, "a param's shape")) return false;
  const AstNode *v = st->value;
  if (!v) {
    p->init.kind = INIT_ZEROS;
    if (typed) return true;
    sema_error(S, st->name_loc, "param %s needs a shape or a value", st->name);
    return false;
  }
  if (v->kind == AST_LIST) {
    Shape s = {0};
    list_dims(v, &s);
    if (!list_check(S, v, s, 0)) return false;
    if (typed && !shape_eq(s, p->shape)) {
      sema_error(S, v->loc, "param %s: the values have shape %s, the declared shape is %s", st->name, shape_str(s, b1),
                 shape_str(p->shape, b2));
      return false;
    }
    if (!typed) p->shape = s;
    double *vals = NEW_ARRAY(S->a, double, shape_numel(s));
    int k = 0;
    list_fill(v, vals, &k);
    p->init = (IrInit){.kind = INIT_VALUES, .values = vals};
    return true;
  }
  if (!sema_init(S, v, &p->init)) return false;
  int r = p->shape.ndim;
  p->init.fan_in = r ? p->shape.dim[0] : 1;
  p->init.fan_out = r ? p->shape.dim[r - 1] : 1;
  return true;
}

/* class(k, names = ["T-shirt", ...]): k distinct strings naming the classes
 * in eval and predict output.  False after reporting. */
static bool class_names(SemaCtx *S, const AstNode *t, ModelValue *v) {
  for (int i = 1; i < t->nargs; i++) {
    const AstArg *a = &t->args[i];
    const AstNode *l = a->value;
    if (!a->name || strcmp(a->name, "names") != 0 || i > 1) {
      sema_error(S, a->loc, "class(k) takes only names = [\"...\", ...] after k");
      return false;
    }
    if (l->kind != AST_LIST || l->nitems != v->nclasses) {
      sema_error(S, l->loc, "names must be a list of %d strings, one per class", v->nclasses);
      return false;
    }
    v->class_names = NEW_ARRAY(S->a, const char *, v->nclasses);
    for (int k = 0; k < l->nitems; k++) {
      const AstNode *s = l->items[k];
      if (s->kind != AST_STR || !s->str[0] || strpbrk(s->str, ",\n\r\t")) {
        sema_error(S, s->loc, "a class name must be a non-empty string in double quotes, without commas or line breaks");
        return false;
      }
      for (int j = 0; j < k; j++)
        if (strcmp(v->class_names[j], s->str) == 0) {
          sema_error(S, s->loc, "class name \"%s\" is given twice", s->str);
          return false;
        }
      v->class_names[k] = s->str;
    }
  }
  return true;
}

/* False after reporting an error in the declaration. */
static bool value_stmt(SemaCtx *S, const Stmt *st, Vec *into) {
  ModelValue *v = NEW(S->a, ModelValue);
  *v = (ModelValue){.name = st->name, .loc = st->name_loc};
  vec_push(into, v);
  const AstNode *t = st->type;
  bool target = st->kind == ST_TARGET;
  if (t && t->kind == AST_CALL && strcmp(t->str, "class") == 0 && target) {
    double k;
    if (t->nargs < 1 || t->args[0].name || !sema_const_eval(t->args[0].value, &k) || k != floor(k) || k < 2 ||
        k > 1e8) {
      sema_error(S, t->loc, "class(k) needs one integer k >= 2, the number of classes");
      return false;
    }
    v->nclasses = (int)k;
    v->shape = shape_1(v->nclasses);
    return class_names(S, t, v);
  }
  if (!t) {
    sema_error(S, st->name_loc, target ? "target %s needs a type: a shape like [1] or class(10)"
                                       : "input %s needs a shape like [784]",
               st->name);
    return false;
  }
  return sema_shape(S, t, false, &v->shape, target ? "a target's type" : "an input's shape");
}

/* Starts the naming context of a statement whose layers are called `prefix`. */
static void begin_stmt(SemaCtx *S, const Stmt *st, const char *prefix, int binding) {
  S->stmt_loc = st->loc;
  S->prefix = prefix;
  S->nlayers = 0;
  S->cur_binding = binding;
  S->kind[0] = 0;
  S->nstages = 0;
}

static const char *kind_text(SemaCtx *S, const Expr *e) {
  if (S->kind[0]) return arena_strdup(S->a, S->kind);
  bool ref = e && (e->kind == EX_INPUT || e->kind == EX_TARGET || e->kind == EX_PARAM || e->kind == EX_LET);
  return ref ? "alias" : "expr";
}

/* b's stages, when they end in its value's shape (an operator after the
 * last builtin may broadcast it further: then the summary keeps one row). */
static void binding_stages(SemaCtx *S, ModelBinding *b) {
  if (!b->value || S->nstages < 2 || !shape_eq(S->stage[S->nstages - 1].shape, b->value->type.shape)) return;
  b->stages = NEW_ARRAY(S->a, ModelStage, S->nstages);
  for (int i = 0; i < S->nstages; i++)
    b->stages[i] = (ModelStage){arena_strdup(S->a, S->stage[i].kind), S->stage[i].shape};
  b->nstages = S->nstages;
}

static void loss_stmt(SemaCtx *S, const Stmt *st) {
  Model *m = S->m;
  if (S->loss_loc.line) {
    sema_error(S, st->loc, "second loss statement; combine the terms with +");
    diag_note(S->d, S->loss_loc, "the first loss is here");
    return;
  }
  S->loss_loc = m->loss_loc = st->loc;
  begin_stmt(S, st, "loss", -1);
  Expr *e = sema_expr(S, st->value);
  m->loss_kind = kind_text(S, e);
  if (!e) return;
  if (shape_numel(e->type.shape) != 1) {
    char b1[96];
    sema_error(S, st->value->loc, "the loss must be a scalar per sample, got %s; reduce it, e.g. with mean(...)",
               sema_type_str(e->type, b1));
    return;
  }
  m->loss = e;
}

/* Explicit `output NAME`, else the loss's leading call's first argument. */
static void default_output(SemaCtx *S) {
  Model *m = S->m;
  if (m->output || !m->loss) return;
  const AstNode *n = NULL;
  for (int i = 0; i < S->p->nstmts; i++)
    if (S->p->stmts[i].kind == ST_LOSS) n = S->p->stmts[i].value;
  while (n && n->kind == AST_BINARY && n->op == '+') n = n->lhs;
  if (!n || n->kind != AST_CALL || n->nargs == 0 || n->args[0].name || n->args[0].value->kind != AST_NAME) return;
  Symbol *sym = find_sym(S, n->args[0].value->str);
  if (!sym || sym->kind == SYM_TARGET) return;
  m->output = name_expr(S, n->args[0].value);
  m->output_name = sym->name;
}

/* The first call under n comparing a binding with target t (`f(p, t)`):
 * the binding's name node, or NULL. */
static const AstNode *head_of(const AstNode *n, const char *t, int depth) {
  if (!n || depth > AST_MAX_DEPTH) return NULL;
  if (n->kind == AST_BINARY) {
    const AstNode *h = head_of(n->lhs, t, depth + 1);
    return h ? h : head_of(n->rhs, t, depth + 1);
  }
  if (n->kind == AST_NEG) return head_of(n->lhs, t, depth + 1);
  if (n->kind != AST_CALL) return NULL;
  if (n->nargs >= 2 && !n->args[0].name && !n->args[1].name && n->args[0].value->kind == AST_NAME &&
      n->args[1].value->kind == AST_NAME && strcmp(n->args[1].value->str, t) == 0)
    return n->args[0].value;
  for (int i = 0; i < n->nargs; i++) {
    const AstNode *h = head_of(n->args[i].value, t, depth + 1);
    if (h) return h;
  }
  return NULL;
}

/* With several targets, each target's head (the binding its loss term
 * compares with it) is an output, in target order; otherwise the output. */
static void collect_outputs(SemaCtx *S) {
  Model *m = S->m;
  m->outputs = NEW_ARRAY(S->a, ModelOutput, m->ntargets + 1);
  if (m->ntargets < 2) {
    if (m->output) m->outputs[m->noutputs++] = (ModelOutput){m->output_name, m->output, m->ntargets ? 0 : -1};
    return;
  }
  const AstNode *loss = NULL;
  for (int i = 0; i < S->p->nstmts; i++)
    if (S->p->stmts[i].kind == ST_LOSS) loss = S->p->stmts[i].value;
  for (int t = 0; t < m->ntargets; t++) {
    const AstNode *h = head_of(loss, m->targets[t].name, 0);
    Symbol *sym = h ? find_sym(S, h->str) : NULL;
    Expr *v = sym && sym->kind == SYM_LET ? name_expr(S, h) : NULL;
    if (v) m->outputs[m->noutputs++] = (ModelOutput){sym->name, v, t};
  }
  if (m->noutputs) {
    m->output = m->outputs[0].value;
    m->output_name = m->outputs[0].name;
  }
}

static void collect_symbols(SemaCtx *S) {
  static const SymKind kinds[] = {[ST_INPUT] = SYM_INPUT, [ST_TARGET] = SYM_TARGET, [ST_PARAM] = SYM_PARAM,
                                  [ST_LET] = SYM_LET};
  S->syms = NEW_ARRAY(S->a, Symbol, S->p->nstmts + 1);
  for (int i = 0; i < S->p->nstmts; i++) {
    const Stmt *st = &S->p->stmts[i];
    if (st->kind != ST_INPUT && st->kind != ST_TARGET && st->kind != ST_PARAM && st->kind != ST_LET) continue;
    Symbol *old = find_sym(S, st->name);
    if (old) {
      sema_error(S, st->name_loc, "'%s' is already defined", st->name);
      diag_note(S->d, old->loc, "the first definition is here");
      continue;
    }
    S->syms[S->nsyms++] = (Symbol){.name = st->name, .kind = kinds[st->kind], .stmt = i, .loc = st->name_loc};
  }
}

static void check_stmt(SemaCtx *S, const Stmt *st) {
  Model *m = S->m;
  Symbol *sym = st->name ? find_sym(S, st->name) : NULL;
  bool mine = sym && sym->stmt == S->stmt;   /* false for a duplicate definition */
  switch (st->kind) {
  case ST_MODEL:
    m->name = st->name;
    return;
  case ST_INPUT:
  case ST_TARGET: {
    Vec *into = st->kind == ST_INPUT ? &S->inputs : &S->targets;
    if (!mine) return;
    sym->index = into->len;
    sym->poisoned = !value_stmt(S, st, into);
    break;
  }
  case ST_PARAM: {
    if (!mine) return;
    begin_stmt(S, st, st->name, -1);
    ModelParam *p = NEW(S->a, ModelParam);
    *p = (ModelParam){.name = st->name, .loc = st->name_loc, .binding = -1, .layer = "param"};
    sym->poisoned = !param_stmt(S, st, p);
    sym->index = S->params.len;
    vec_push(&S->params, p);
    break;
  }
  case ST_LET: {
    if (!mine) return;
    begin_stmt(S, st, st->name, S->bindings.len);
    ModelBinding *b = NEW(S->a, ModelBinding);
    *b = (ModelBinding){.name = st->name, .loc = st->loc};
    sym->index = S->bindings.len;
    vec_push(&S->bindings, b);
    b->value = sema_expr(S, st->value);
    b->kind = kind_text(S, b->value);
    binding_stages(S, b);
    break;
  }
  case ST_LOSS:
    loss_stmt(S, st);
    return;
  case ST_OUTPUT:
    if (m->output_name) {
      sema_error(S, st->loc, "second output statement");
      return;
    }
    m->output_name = st->name;
    m->output = name_expr(S, &(AstNode){.kind = AST_NAME, .loc = st->name_loc, .str = st->name});
    return;
  case ST_OPTIMIZER:
    sema_optimizer(S, st);
    return;
  case ST_TRAIN:
    sema_train(S, st);
    return;
  }
  sym->defined = true;
}

/* Copies a Vec of T* into an arena array of T. */
#define FREEZE(S, vec, T, out, n)                                                   \
  do {                                                                              \
    (n) = (vec).len;                                                                \
    (out) = NEW_ARRAY((S)->a, T, (n) ? (n) : 1);                                    \
    for (int i_ = 0; i_ < (n); i_++) (out)[i_] = *(T *)(vec).items[i_];             \
    vec_free(&(vec));                                                               \
  } while (0)

static const char *base_name(Arena *a, const char *file) {
  const char *s = strrchr(file, '/');
  s = s ? s + 1 : file;
  const char *dot = strrchr(s, '.');
  return arena_strndup(a, s, dot && dot != s ? (size_t)(dot - s) : strlen(s));
}

Model *sema_check(const AstProgram *p, Arena *a, Diag *d) {
  int errors0 = diag_errors(d);
  Model *m = NEW(a, Model);
  SemaCtx ctx = {.a = a, .d = d, .p = p, .m = m, .cur_binding = -1};
  SemaCtx *S = &ctx;
  m->name = base_name(a, p->file ? p->file : "model");
  m->optim = (OptimConfig){.kind = OPT_SGD, .lr = 0.01, .gamma = 0.9, .beta = 0.9, .beta1 = 0.9, .beta2 = 0.999,
                           .eps = 1e-8};
  m->train = (TrainConfig){.epochs = 10, .batch = 32, .shuffle = true, .seed = 42};
  m->train.data.scale = m->train.validation.scale = m->train.test.scale = 1;
  collect_symbols(S);
  for (S->stmt = 0; S->stmt < p->nstmts; S->stmt++) check_stmt(S, &p->stmts[S->stmt]);
  if (!S->loss_loc.line) sema_error(S, (Loc){.file = p->file}, "no loss statement; add one, e.g. `loss mse(pred, y)`");
  default_output(S);
  FREEZE(S, S->inputs, ModelValue, m->inputs, m->ninputs);
  FREEZE(S, S->targets, ModelValue, m->targets, m->ntargets);
  if (diag_errors(d) == errors0) collect_outputs(S);
  FREEZE(S, S->params, ModelParam, m->params, m->nparams);
  FREEZE(S, S->bindings, ModelBinding, m->bindings, m->nbindings);
  m->ndropout = S->ndropout;
  return diag_errors(d) > errors0 ? NULL : m;
}

/* ---- summary ---- */

int64_t model_param_numel(const ModelParam *p) { return shape_numel(p->shape); }

int64_t model_param_count(const Model *m) {
  int64_t n = 0;
  for (int i = 0; i < m->nparams; i++) n += model_param_numel(&m->params[i]);
  return n;
}

/* One row of the summary table. */
typedef struct {
  const char *name;   /* value name, "loss"; "" on a binding's later stages */
  const char *kind;   /* "input", "dense+relu", ... */
  char shape[96];     /* per-sample shape or class(k) */
  int64_t params;     /* parameters it created */
} SummaryRow;

/* Rows the summary may need: one per value, one per further stage, the loss. */
static int summary_capacity(const Model *m) {
  int n = m->ninputs + m->ntargets + m->nparams + 1;
  for (int i = 0; i < m->nbindings; i++) n += m->bindings[i].nstages > 1 ? m->bindings[i].nstages : 1;
  return n;
}

/* The rows in table order: inputs, targets, param statements, bindings (a
 * binding whose builtins change the shape on the way gets a row per shape,
 * its name on the first, each layer call's parameters on its own), the loss
 * (its layers' parameters); returns how many (at most summary_capacity). */
static int summary_rows(const Model *m, SummaryRow *rows) {
  int n = 0;
  for (int i = 0; i < m->ninputs; i++) {
    rows[n] = (SummaryRow){m->inputs[i].name, "input", "", 0};
    shape_str(m->inputs[i].shape, rows[n++].shape);
  }
  for (int i = 0; i < m->ntargets; i++) {
    const ModelValue *t = &m->targets[i];
    rows[n] = (SummaryRow){t->name, "target", "", 0};
    sema_type_str((Type){.shape = t->shape, .nclasses = t->nclasses}, rows[n++].shape);
  }
  for (int i = 0; i < m->nparams; i++)
    if (m->params[i].binding < 0 && strcmp(m->params[i].layer, "param") == 0) {
      rows[n] = (SummaryRow){m->params[i].name, "param", "", model_param_numel(&m->params[i])};
      shape_str(m->params[i].shape, rows[n++].shape);
    }
  for (int i = 0; i < m->nbindings; i++) {
    const ModelBinding *b = &m->bindings[i];
    int first = n;
    if (b->nstages > 1) {
      for (int k = 0; k < b->nstages; k++) {
        rows[n] = (SummaryRow){k ? "" : b->name, b->stages[k].kind, "", 0};
        shape_str(b->stages[k].shape, rows[n++].shape);
      }
    } else {
      rows[n] = (SummaryRow){b->name, b->kind, "", 0};
      sema_type_str(b->value->type, rows[n++].shape);
    }
    for (int j = 0; j < m->nparams; j++)
      if (m->params[j].binding == i)
        rows[first + (b->nstages > 1 ? m->params[j].stage : 0)].params += model_param_numel(&m->params[j]);
  }
  rows[n] = (SummaryRow){"loss", m->loss_kind, "[]", 0};
  for (int j = 0; j < m->nparams; j++)
    if (m->params[j].binding < 0 && strcmp(m->params[j].layer, "param") != 0) rows[n].params += model_param_numel(&m->params[j]);
  return n + 1;
}

/* Columns are as wide as their longest entry (at least the usual widths),
 * so a long kind such as dense+sigmoid+binary_cross_entropy never pushes
 * the shape out of line. */
void model_print_summary(FILE *out, const Model *m) {
  SummaryRow *rows = xcalloc((size_t)summary_capacity(m), sizeof(SummaryRow));
  int n = summary_rows(m, rows), wn = 16, wk = 22, ws = 14;
  for (int i = 0; i < n; i++) {
    wn = (int)fmax(wn, (double)strlen(rows[i].name));
    wk = (int)fmax(wk, (double)strlen(rows[i].kind));
    ws = (int)fmax(ws, (double)strlen(rows[i].shape));
  }
  fprintf(out, "model %s\n", m->name);
  fprintf(out, "  %-*s %-*s %-*s %12s\n", wn, "name", wk, "kind", ws, "shape", "params");
  for (int i = 0; i < n; i++)
    fprintf(out, "  %-*s %-*s %-*s %12lld\n", wn, rows[i].name, wk, rows[i].kind, ws, rows[i].shape,
            (long long)rows[i].params);
  fprintf(out, "  %-*s %-*s %-*s %12lld\n", wn, "total", wk, "", ws, "", (long long)model_param_count(m));
  free(rows);
}

/* ---- sizes with the batch axis ----
 * A batched tensor may have at most 2^30 elements (4 GiB of floats), and the
 * batched values of one step together at most 2^31 (8 GiB, before the
 * gradients of the same size); the parameters together at most 2^28 (1 GiB,
 * four times that with gradients and Adam's moments).  So a model or batch
 * too big for any machine is refused here, naming the tensor and the limit,
 * instead of by an allocation. */
enum { SEMA_MAX_BATCHED = 1 << 30, SEMA_MAX_PARAMS = 1 << 28 };
static const double SEMA_MAX_BATCH_TOTAL = 2147483648.0;

typedef struct {
  Diag *d;          /* where the error goes */
  int batch;        /* the batch size checked */
  double total;     /* elements of the batched values so far */
  bool failed;      /* an error was reported */
} BatchCheck;

static double numel_d(Shape s) {
  double n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.dim[i];
  return n;
}

/* Counts one batched value of per-sample shape s; reports it if too big. */
static void batched_value(BatchCheck *bc, Loc at, Shape s, const char *what) {
  double n = numel_d(s) * bc->batch;
  bc->total += n;
  if (n <= SEMA_MAX_BATCHED || bc->failed) return;
  diag_error(bc->d, at,
             "with batch %d, %s would have %d x %.0f = %.0f elements; a batched tensor may have at most 2^30 = %d "
             "(lower the batch size)",
             bc->batch, what, bc->batch, numel_d(s), n, SEMA_MAX_BATCHED);
  bc->failed = true;
}

/* Every batched value computed in e, operands first; references to inputs,
 * targets and bindings are counted where those are declared. */
static void batched_expr(BatchCheck *bc, const Expr *e, const char *name) {
  if (!e) return;
  batched_expr(bc, e->lhs, NULL);
  batched_expr(bc, e->rhs, NULL);
  for (int k = 0; e->kind == EX_CALL && k < BUILTIN_MAX_PARAMS && e->fn->params[k].name; k++)
    if (e->args[k].present) batched_expr(bc, e->args[k].x, NULL);
  bool reference = e->kind == EX_INPUT || e->kind == EX_TARGET || e->kind == EX_LET;
  if (!e->type.batched || reference) return;
  char what[160];
  snprintf(what, sizeof what, name ? "'%s'" : "this value", name);
  batched_value(bc, e->loc, e->type.shape, what);
}

bool sema_check_sizes(const Model *m, int batch, Diag *d) {
  BatchCheck bc = {.d = d, .batch = batch};
  char what[160];
  for (int i = 0; i < m->ninputs; i++) {
    snprintf(what, sizeof what, "input '%s'", m->inputs[i].name);
    batched_value(&bc, m->inputs[i].loc, m->inputs[i].shape, what);
  }
  for (int i = 0; i < m->ntargets; i++) {
    snprintf(what, sizeof what, "target '%s'", m->targets[i].name);
    batched_value(&bc, m->targets[i].loc, m->targets[i].shape, what);
  }
  for (int i = 0; i < m->nbindings; i++) batched_expr(&bc, m->bindings[i].value, m->bindings[i].name);
  batched_expr(&bc, m->loss, NULL);
  if (m->output) batched_expr(&bc, m->output, NULL);
  if (!bc.failed && bc.total > SEMA_MAX_BATCH_TOTAL) {
    diag_error(d, m->ninputs ? m->inputs[0].loc : m->loss_loc,
               "with batch %d, the batched values of one step would have %.0f elements in all (%.1f GiB); at most "
               "2^31 = %.0f are supported (lower the batch size)",
               batch, bc.total, bc.total * 4 / (1024.0 * 1024 * 1024), SEMA_MAX_BATCH_TOTAL);
    bc.failed = true;
  }
  double params = (double)model_param_count(m);
  if (!bc.failed && params > SEMA_MAX_PARAMS) {
    diag_error(d, m->params[0].loc, "the model's parameters would have %.0f elements in all; at most 2^28 = %d are "
               "supported", params, SEMA_MAX_PARAMS);
    bc.failed = true;
  }
  return !bc.failed;
}
