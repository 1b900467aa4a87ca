/* builtins: the table of every function the language knows, with each
 * builtin's shape rule (for sema) and lowering (for lower) side by side.
 *
 * Shape rules see per-sample types; lowering sees IR values that carry an
 * explicit leading batch axis when their type is batched (LowerCtx helpers
 * keep the two views aligned).  Numerical choices live here: relu = max(x, 0),
 * sigmoid through tanh, elu and selu through a guarded expm1, gelu through
 * erfc, softmax and the cross-entropies through logsumexp, inverted dropout,
 * batch norm with PyTorch's momentum convention.
 */
#include "builtins.h"

#include <math.h>
#include <string.h>

/* ---- small helpers ---- */

static Type scalar_type(bool batched) { return (Type){.shape = shape_scalar(), .batched = batched}; }

static Type arg_type(const Expr *e, int i) { return e->args[i].x->type; }

/* All per-sample axes of a rank-r value as a bitmask. */
static unsigned all_axes(int r) { return r ? (1u << r) - 1 : 0; }

/* Reshape an IR value to the IR shape of type t. */
static IrNode *to_type(LowerCtx *L, IrNode *x, Type t) { return lower_reshape(L, x, lower_ir_shape(L, t)); }

/* ---- shape rules ---- */

/* Elementwise on x: same shape; class-ness is dropped (the result is data). */
static bool check_same(SemaCtx *S, Expr *e) {
  (void)S;
  e->type = arg_type(e, 0);
  e->type.nclasses = 0;
  return true;
}

/* gelu: approximate is "none" (the exact erf form) or "tanh". */
static bool check_gelu(SemaCtx *S, Expr *e) {
  const ArgVal *ap = builtin_arg(e, "approximate");
  if (strcmp(ap->str, "none") != 0 && strcmp(ap->str, "tanh") != 0) {
    sema_error(S, ap->ast ? ap->ast->loc : ap->loc, "gelu: approximate must be \"none\" (exact, x * Phi(x) through erf) or \"tanh\", got \"%s\"",
               ap->str);
    return false;
  }
  return check_same(S, e);
}

static bool check_vector_like(SemaCtx *S, Expr *e) {
  if (arg_type(e, 0).shape.ndim == 0) {
    sema_error(S, e->loc, "%s needs at least one axis, got a scalar []", e->fn->name);
    return false;
  }
  return check_same(S, e);
}

/* The name of an argument written as a plain name ("x" in relu(x)), else
 * NULL: messages name the values the user wrote, not expressions. */
static const char *arg_name(const ArgVal *v) { return v->ast && v->ast->kind == AST_NAME ? v->ast->str : NULL; }

enum { OPERAND_LEN = 96 + 72 };   /* a type string (96 bytes) and a quoted name of up to 60 */

/* "[4] ('x')" or "[4]": a shape in a message, with the value's name when it
 * has one; buf holds OPERAND_LEN bytes (a very long name is cut). */
static char *operand_str(Type t, const char *name, char *buf) {
  char s[96];
  sema_type_str(t, s);
  if (name) snprintf(buf, OPERAND_LEN, "%s ('%.60s')", s, name);
  else snprintf(buf, OPERAND_LEN, "%s", s);
  return buf;
}

void builtin_broadcast_error(SemaCtx *S, Loc at, const char *what, Type a, const char *an, Type b, const char *bn) {
  char b1[OPERAND_LEN], b2[OPERAND_LEN], axis[32];
  int ra = a.shape.ndim, rb = b.shape.ndim, i = 1, da = 1, db = 1;
  /* the first pair from the right that neither matches nor stretches */
  for (; i <= ra || i <= rb; i++) {
    da = i <= ra ? a.shape.dim[ra - i] : 1;
    db = i <= rb ? b.shape.dim[rb - i] : 1;
    if (da != db && da != 1 && db != 1) break;
  }
  if (i == 1) snprintf(axis, sizeof axis, "the last axis");
  else snprintf(axis, sizeof axis, "axis -%d", i);
  sema_error(S, at,
             "%s cannot combine shapes %s and %s: broadcasting aligns shapes from the right and sizes must be "
             "equal or 1, but %s has %d and %d",
             what, operand_str(a, an, b1), operand_str(b, bn, b2), axis, da, db);
}

static bool check_broadcast2(SemaCtx *S, Expr *e) {
  Type a = arg_type(e, 0), b = arg_type(e, 1);
  Shape s;
  if (!ir_broadcast_shape(a.shape, b.shape, &s)) {
    builtin_broadcast_error(S, e->loc, e->fn->name, a, arg_name(&e->args[0]), b, arg_name(&e->args[1]));
    return false;
  }
  e->type = (Type){.shape = s, .batched = a.batched || b.batched};
  return true;
}

bool builtin_matmul_type(SemaCtx *S, Loc at, Type a, const char *an, Type b, const char *bn, Type *out) {
  char b1[OPERAND_LEN], b2[OPERAND_LEN];
  int ra = a.shape.ndim, rb = b.shape.ndim;
  if (ra < 1 || ra > 2 || rb < 1 || rb > 2) {
    sema_error(S, at, "matmul needs vectors or matrices per sample, got %s @ %s", operand_str(a, an, b1),
               operand_str(b, bn, b2));
    return false;
  }
  if (a.batched && b.batched) {
    sema_error(S, at, "matmul of two batch-dependent values %s @ %s is not supported; one side must be a param",
               operand_str(a, an, b1), operand_str(b, bn, b2));
    return false;
  }
  if (a.shape.dim[ra - 1] != b.shape.dim[0]) {
    sema_error(S, at,
               "matmul: inner sizes differ in %s @ %s: the left side's last size (%d) must equal the right side's "
               "first size (%d)",
               operand_str(a, an, b1), operand_str(b, bn, b2), a.shape.dim[ra - 1], b.shape.dim[0]);
    return false;
  }
  Type t = {.batched = a.batched || b.batched};
  if (ra == 2) t.shape.dim[t.shape.ndim++] = a.shape.dim[0];
  if (rb == 2) t.shape.dim[t.shape.ndim++] = b.shape.dim[1];
  *out = t;
  return true;
}

static bool check_matmul(SemaCtx *S, Expr *e) {
  return builtin_matmul_type(S, e->loc, arg_type(e, 0), arg_name(&e->args[0]), arg_type(e, 1),
                             arg_name(&e->args[1]), &e->type);
}

/* dense and maxout: a vector input (a scalar counts as [1]); W [in, units*k], b. */
static bool check_dense_like(SemaCtx *S, Expr *e, int k) {
  char b1[96];
  Type x = arg_type(e, 0);
  if (x.shape.ndim > 1) {
    sema_error(S, e->args[0].loc, "%s expects a vector input, got %s; use flatten(%s)", e->fn->name,
               sema_type_str(x, b1), sema_arg_text(S, &e->args[0]));
    return false;
  }
  int in = x.shape.ndim ? x.shape.dim[0] : 1;
  int units = (int)builtin_arg(e, "units")->num;
  IrInit w = builtin_arg(e, "init")->init;
  w.fan_in = in;
  w.fan_out = units;
  sema_add_param(S, e, "w", shape_2(in, units * k), w);
  if (builtin_arg(e, "bias")->num != 0) sema_add_param(S, e, "b", shape_1(units * k), (IrInit){.kind = INIT_ZEROS});
  e->type = (Type){.shape = shape_1(units), .batched = x.batched};
  return true;
}

static bool check_dense(SemaCtx *S, Expr *e) { return check_dense_like(S, e, 1); }

static bool check_maxout(SemaCtx *S, Expr *e) { return check_dense_like(S, e, (int)builtin_arg(e, "k")->num); }

static bool check_dropout(SemaCtx *S, Expr *e) {
  if (builtin_arg(e, "channels")->num != 0 && arg_type(e, 0).shape.ndim < 2) {
    char b1[96];
    sema_error(S, builtin_arg(e, "channels")->loc,
               "dropout: channels = true drops whole channels of a feature map [channels, ...], but %s is %s",
               sema_arg_text(S, &e->args[0]), sema_type_str(arg_type(e, 0), b1));
    return false;
  }
  e->site = sema_new_site(S);
  return check_same(S, e);
}

/* Which normalization a norm entry's tag means. */
enum { NORM_LAYER, NORM_BATCH };

/* layer_norm and batch_norm: gamma (ones) and beta (zeros) of the per-sample shape. */
static bool check_norm(SemaCtx *S, Expr *e) {
  Type x = arg_type(e, 0);
  if (e->fn->tag == NORM_BATCH && !x.batched) {
    sema_error(S, e->loc, "batch_norm needs a batch-dependent input (computed from an input)");
    return false;
  }
  if (e->fn->tag == NORM_LAYER && x.shape.ndim == 0) {
    sema_error(S, e->loc, "layer_norm needs at least one feature axis, got a scalar []");
    return false;
  }
  /* a feature map [C, H, W] is normalized per channel */
  Shape per = e->fn->tag == NORM_BATCH && x.shape.ndim == 3 ? shape_1(x.shape.dim[0]) : x.shape;
  sema_add_param(S, e, "gamma", per, (IrInit){.kind = INIT_CONST, .a = 1});
  sema_add_param(S, e, "beta", per, (IrInit){.kind = INIT_ZEROS});
  return check_same(S, e);
}

/* sum/mean/max: over all per-sample axes, or the one given by axis= (dropped). */
static bool check_reduce(SemaCtx *S, Expr *e) {
  char b1[96];
  Type x = arg_type(e, 0);
  const ArgVal *ax = builtin_arg(e, "axis");
  e->type = scalar_type(x.batched);
  if (!ax->present) return true;
  int r = x.shape.ndim, k = (int)ax->num;
  if (k < -r || k >= r) {
    sema_error(S, ax->loc, "%s: axis %d is out of range for shape %s", e->fn->name, k, sema_type_str(x, b1));
    return false;
  }
  if (k < 0) k += r;
  e->type.shape = x.shape;
  e->type.shape.ndim = r - 1;
  for (int i = k; i < r - 1; i++) e->type.shape.dim[i] = x.shape.dim[i + 1];
  return true;
}

/* The per-sample axis k of x (negative counts from the end) as 0..r-1, or
 * -1 after an error at `at` naming x's shape. */
static int axis_of(SemaCtx *S, const Expr *e, Loc at, int k, Type x, const char *xname) {
  char b1[OPERAND_LEN];
  int r = x.shape.ndim;
  if (k >= -r && k < r) return k < 0 ? k + r : k;
  sema_error(S, at, "%s: axis %d is out of range for %s, which has %d ax%s: use 0..%d, or -%d..-1 from the end",
             e->fn->name, k, operand_str(x, xname, b1), r, r == 1 ? "is" : "es", r - 1, r);
  return -1;
}

/* Where a numeric argument was written: its value when given, else the call. */
static Loc value_loc(const ArgVal *v) { return v->ast ? v->ast->loc : v->loc; }

enum { CONCAT_MAX = 8 };   /* operands of one concat */

/* concat: operands of one rank whose sizes agree on every axis but `axis`,
 * which adds up.  When two operands differ on exactly one other axis and
 * agree on `axis`, the message suggests that axis instead. */
static bool check_concat(SemaCtx *S, Expr *e) {
  char b1[OPERAND_LEN], b2[OPERAND_LEN];
  Type t = arg_type(e, 0);
  const char *first = arg_name(&e->args[0]);
  const ArgVal *ax = builtin_arg(e, "axis");
  if (t.shape.ndim == 0) {
    sema_error(S, e->args[0].loc, "concat joins along an axis, but %s is a scalar; use reshape(%s, [1]) for a vector",
               operand_str(t, first, b1), sema_arg_text(S, &e->args[0]));
    return false;
  }
  int k = axis_of(S, e, value_loc(ax), (int)ax->num, t, first);
  if (k < 0) return false;
  Type first_t = t;
  for (int i = 1; i < CONCAT_MAX; i++) {
    if (!e->args[i].present) continue;
    Type u = arg_type(e, i);
    int other = -1, ndiff = 0;
    bool rank = u.shape.ndim == t.shape.ndim;
    for (int d = 0; rank && d < t.shape.ndim; d++)
      if (d != k && u.shape.dim[d] != first_t.shape.dim[d]) other = d, ndiff++;
    if (!rank || ndiff) {
      operand_str(u, arg_name(&e->args[i]), b1);
      operand_str(first_t, first, b2);
      if (u.shape.ndim == 0)
        sema_error(S, e->args[i].loc, "concat: operand %d ('%s') is a scalar []; the axis is given by name: "
                   "concat(..., axis = %s)", i + 1, sema_arg_text(S, &e->args[i]), sema_arg_text(S, &e->args[i]));
      else if (!rank)
        sema_error(S, e->args[i].loc, "concat: %s and %s have different ranks; every operand needs %d axes", b1, b2,
                   first_t.shape.ndim);
      else if (ndiff == 1 && u.shape.dim[k] == first_t.shape.dim[k])
        sema_error(S, e->args[i].loc,
                   "concat along axis %d: %s and %s differ on axis %d (%d and %d), and only the concat axis may "
                   "differ; did you mean axis = %d?",
                   k, b1, b2, other, u.shape.dim[other], first_t.shape.dim[other], other);
      else
        sema_error(S, e->args[i].loc,
                   "concat along axis %d: %s and %s differ on axis %d (%d and %d); only the concat axis may differ",
                   k, b1, b2, other, u.shape.dim[other], first_t.shape.dim[other]);
      return false;
    }
    t.shape.dim[k] += u.shape.dim[k];
    t.batched = t.batched || u.batched;
  }
  t.nclasses = 0;
  e->type = t;
  return true;
}

/* slice(x, start, end, axis): [start, end) of one axis, negative counting
 * from the end as in Python; never empty, never past the axis. */
static bool check_slice(SemaCtx *S, Expr *e) {
  char b1[OPERAND_LEN];
  Type x = arg_type(e, 0);
  const char *xn = arg_name(&e->args[0]);
  const ArgVal *ax = builtin_arg(e, "axis"), *sv = builtin_arg(e, "start"), *ev = builtin_arg(e, "end");
  if (x.shape.ndim == 0) {
    sema_error(S, e->args[0].loc, "slice: %s is a scalar, with no axis to slice", operand_str(x, xn, b1));
    return false;
  }
  int k = axis_of(S, e, value_loc(ax), (int)ax->num, x, xn);
  if (k < 0) return false;
  int n = x.shape.dim[k], start = (int)sv->num, end = ev->present ? (int)ev->num : n;
  int s0 = start < 0 ? start + n : start, e0 = end < 0 ? end + n : end;
  if (s0 < 0 || s0 >= n) {
    sema_error(S, value_loc(sv), "slice: start %d is outside axis %d of %s, which has %d elements: use 0..%d, or -%d..-1 "
               "from the end", start, k, operand_str(x, xn, b1), n, n - 1, n);
    return false;
  }
  if (e0 <= s0 || e0 > n) {
    sema_error(S, value_loc(ev), "slice: end %d is outside axis %d of %s: after start %d it must be in %d..%d (the "
               "range [start, end) holds at least one element and the axis has %d)", end, k, operand_str(x, xn, b1),
               start, s0 + 1, n, n);
    return false;
  }
  e->type = x;
  e->type.nclasses = 0;
  e->type.shape.dim[k] = e0 - s0;
  return true;
}

/* transpose(x): the axes reversed; transpose(x, perm): out axis i is x's
 * axis perm[i] (per-sample axes; the batch stays first). */
static bool check_transpose(SemaCtx *S, Expr *e) {
  char b1[OPERAND_LEN];
  Type x = arg_type(e, 0);
  const char *xn = arg_name(&e->args[0]);
  const ArgVal *pv = builtin_arg(e, "perm");
  int r = x.shape.ndim;
  if (!pv->present && r < 2) {
    sema_error(S, e->loc, "transpose: %s has %s; transpose(x) reverses the axes of a matrix or more", operand_str(x, xn, b1),
               r ? "one axis" : "no axes");
    return false;
  }
  Shape p = pv->shape;
  if (pv->present && p.ndim != r) {
    sema_error(S, value_loc(pv), "transpose: perm lists %d ax%s, but %s has %d: it must name each axis 0..%d once",
               p.ndim, p.ndim == 1 ? "is" : "es", operand_str(x, xn, b1), r, r - 1);
    return false;
  }
  unsigned seen = 0;
  e->type = x;
  e->type.nclasses = 0;
  for (int i = 0; i < r; i++) {
    int a = pv->present ? p.dim[i] : r - 1 - i;
    if (a < 0) a += r;
    if (a < 0 || a >= r || (seen >> a & 1u)) {
      sema_error(S, value_loc(pv), "transpose: perm must name each axis of %s once (0..%d, or negative from the end); "
                 "axis %d is %s", operand_str(x, xn, b1), r - 1, p.dim[i], a < 0 || a >= r ? "out of range" : "repeated");
      return false;
    }
    seen |= 1u << a;
    e->type.shape.dim[i] = x.shape.dim[a];
  }
  return true;
}

static bool check_flatten(SemaCtx *S, Expr *e) {
  (void)S;
  Type x = arg_type(e, 0);
  e->type = (Type){.shape = shape_1((int)shape_numel(x.shape)), .batched = x.batched};
  return true;
}

static bool check_reshape(SemaCtx *S, Expr *e) {
  char b1[96], b2[96];
  Type x = arg_type(e, 0);
  const ArgVal *sv = builtin_arg(e, "shape");
  Shape s = sv->shape;
  int64_t known = 1;
  int hole = -1;
  for (int i = 0; i < s.ndim; i++) {
    if (s.dim[i] == -1 && hole < 0) hole = i;
    else if (s.dim[i] > 0) known *= s.dim[i];
    else {
      sema_error(S, sv->loc, "reshape: sizes must be positive (one may be -1), got %d", s.dim[i]);
      return false;
    }
  }
  int64_t n = shape_numel(x.shape);
  if (hole >= 0 && n % known == 0) s.dim[hole] = (int)(n / known);
  if (shape_numel(s) != n || (hole >= 0 && n % known != 0)) {
    sema_error(S, sv->loc, "reshape: cannot reshape %s into %s", sema_type_str(x, b1),
               sema_type_str((Type){.shape = sv->shape}, b2));
    return false;
  }
  e->type = (Type){.shape = s, .batched = x.batched};
  return true;
}

/* How to give the prediction p the target's shape t, for the loss messages:
 * a reshape when the element counts agree, else a last layer of the right
 * width when the target is a vector (or a scalar, which [1] matches). */
static char *fix_hint(SemaCtx *S, const ArgVal *pred, Type p, Type t, char *buf, size_t len) {
  char b1[96];
  int64_t n = shape_numel(t.shape);
  if (shape_numel(p.shape) == n && t.shape.ndim > 0)
    snprintf(buf, len, "use reshape(%s, %s)", sema_arg_text(S, pred), shape_str(t.shape, b1));
  else if (t.shape.ndim <= 1)
    snprintf(buf, len, "make the last layer dense(..., %lld)", (long long)n);
  else
    snprintf(buf, len, "make it %s like the target", shape_str(t.shape, b1));
  return buf;
}

/* mse, mae, binary_cross_entropy: prediction and target of one shape (or both
 * one element, so [1] against [] is fine); a scalar per sample. */
static bool check_pointwise_loss(SemaCtx *S, Expr *e) {
  char b1[OPERAND_LEN], b2[OPERAND_LEN], hint[256];
  Type p = arg_type(e, 0), t = arg_type(e, 1);
  bool one = shape_numel(p.shape) == 1 && shape_numel(t.shape) == 1;
  if (!one && !shape_eq(p.shape, t.shape)) {
    sema_error(S, e->loc, "%s: prediction %s and target %s differ; the prediction needs the target's shape: %s",
               e->fn->name, operand_str(p, arg_name(&e->args[0]), b1), operand_str(t, arg_name(&e->args[1]), b2),
               fix_hint(S, &e->args[0], p, t, hint, sizeof hint));
    return false;
  }
  e->type = scalar_type(p.batched || t.batched);
  return true;
}

/* The losses take logits and squash them themselves (softmax, sigmoid), so
 * a prediction that is already squashed is squashed twice: the gradient
 * shrinks and training stalls on a plateau, with no error anywhere.  Warn,
 * looking through bindings (p = softmax(z)). */
static void warn_squashed_twice(SemaCtx *S, const Expr *e, const char *squash) {
  const Expr *x = e->args[0].x;
  const char *via = x->kind == EX_LET ? sema_arg_text(S, &e->args[0]) : NULL;
  while (x->kind == EX_LET) x = sema_binding_value(S, x->ref);
  if (x->kind != EX_CALL || strcmp(x->fn->name, squash) != 0) return;
  sema_warning(S, e->args[0].loc,
               "%s takes logits and applies %s itself; %s%s%s is already %s(...), so %s is applied twice and "
               "training stalls: pass %s(%s, %s) (`nnc predict --probs` prints probabilities)",
               e->fn->name, squash, via ? "'" : "", via ? via : "this prediction", via ? "'" : "", squash, squash,
               e->fn->name, sema_arg_text(S, &x->args[0]), sema_arg_text(S, &e->args[1]));
  if (via) sema_note(S, x->loc, "the %s is applied here", squash);
}

/* binary_cross_entropy: one 0/1 target per logit.  A class(2) target is a
 * one-hot pair, which no single logit matches: say how to declare it. */
static bool check_bce(SemaCtx *S, Expr *e) {
  Type p = arg_type(e, 0), t = arg_type(e, 1);
  if (t.nclasses > 0) {
    const char *y = sema_arg_text(S, &e->args[1]);
    sema_error(S, e->args[1].loc,
               "binary_cross_entropy takes 0/1 targets, but '%s' is class(%d) (one-hot, %d values per sample): "
               "declare `target %s : [%lld]` for one 0/1 value per logit, or keep class(%d) and use cross_entropy",
               y, t.nclasses, t.nclasses, y, (long long)shape_numel(p.shape), t.nclasses);
    return false;
  }
  if (!check_pointwise_loss(S, e)) return false;
  warn_squashed_twice(S, e, "sigmoid");
  return true;
}

static bool check_cross_entropy(SemaCtx *S, Expr *e) {
  char b1[OPERAND_LEN], b2[OPERAND_LEN];
  Type x = arg_type(e, 0), y = arg_type(e, 1);
  if (x.shape.ndim != 1) {
    sema_error(S, e->args[0].loc, "cross_entropy expects a vector of logits per sample, got %s", sema_type_str(x, b1));
    return false;
  }
  if (!shape_eq(x.shape, y.shape)) {
    operand_str(x, arg_name(&e->args[0]), b1);
    operand_str(y, arg_name(&e->args[1]), b2);
    if (y.shape.ndim == 1)
      sema_error(S, e->loc,
                 "cross_entropy: logits %s and target %s differ; the logits need one entry per %s: make the last "
                 "layer dense(..., %d)",
                 b1, b2, y.nclasses > 0 ? "class" : "target value", y.shape.dim[0]);
    else
      sema_error(S, e->loc,
                 "cross_entropy: logits %s and target %s differ; the target must be class(k) or a vector [k] of "
                 "class probabilities",
                 b1, b2);
    return false;
  }
  e->type = scalar_type(x.batched || y.batched);
  warn_squashed_twice(S, e, "softmax");
  return true;
}

static bool check_uniform(SemaCtx *S, Expr *e) {
  if (builtin_arg(e, "lo")->num >= builtin_arg(e, "hi")->num) {
    sema_error(S, e->loc, "uniform: lo must be below hi");
    return false;
  }
  return true;
}

/* ---- lowering ---- */

static IrNode *lower_unary(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return ir_unary(L->g, (IrOp)e->fn->tag, x[0]);
}

static IrNode *lower_binary2(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return lower_elementwise(L, (IrOp)e->fn->tag, x[0], arg_type(e, 0), x[1], arg_type(e, 1));
}

static IrNode *lower_matmul_call(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return lower_matmul(L, x[0], arg_type(e, 0), x[1], arg_type(e, 1));
}

/* relu(x) = max(x, 0): MAX sends the gradient to b on ties, so relu'(0) = 0. */
static IrNode *lower_relu(LowerCtx *L, const Expr *e, IrNode *const *x) {
  (void)e;
  return ir_binary(L->g, OP_MAX, x[0], lower_num(L, 0));
}

/* sigmoid(x) = 0.5*tanh(0.5*x) + 0.5: no exp, so no overflow for any x. */
static IrNode *lower_sigmoid(LowerCtx *L, const Expr *e, IrNode *const *x) {
  (void)e;
  IrNode *t = ir_unary(L->g, OP_TANH, lower_mul(L, x[0], lower_num(L, 0.5)));
  return lower_add(L, lower_mul(L, t, lower_num(L, 0.5)), lower_num(L, 0.5));
}

/* leaky_relu: max(x, alpha*x) is right only for alpha <= 1; else a select. */
static IrNode *lower_leaky_relu(LowerCtx *L, const Expr *e, IrNode *const *x) {
  double alpha = builtin_arg(e, "alpha")->num;
  IrNode *ax = lower_mul(L, x[0], lower_num(L, alpha));
  if (alpha <= 1) return ir_binary(L->g, OP_MAX, x[0], ax);
  return ir_where(L->g, ir_binary(L->g, OP_CMPLT, x[0], lower_num(L, 0)), ax, x[0]);
}

/* scale * (x if x >= 0 else alpha*(e^x - 1)): the negative branch takes
 * expm1(min(x, 0)), so the unused branch never overflows (an inf there would
 * turn the select's gradient into NaN) and small negative x keep their
 * relative accuracy. */
static IrNode *elu_of(LowerCtx *L, IrNode *x, double alpha, double scale) {
  IrNode *zero = lower_num(L, 0);
  IrNode *em1 = ir_unary(L->g, OP_EXPM1, ir_binary(L->g, OP_MIN, x, zero));
  IrNode *neg = lower_mul(L, em1, lower_num(L, alpha * scale));
  return ir_where(L->g, ir_binary(L->g, OP_CMPLT, x, zero), neg, scale == 1 ? x : lower_mul(L, x, lower_num(L, scale)));
}

static IrNode *lower_elu(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return elu_of(L, x[0], builtin_arg(e, "alpha")->num, 1);
}

/* selu: elu with the self-normalizing constants of Klambauer et al. (2017),
 * as PyTorch and Keras spell them. */
static IrNode *lower_selu(LowerCtx *L, const Expr *e, IrNode *const *x) {
  (void)e;
  return elu_of(L, x[0], 1.6732632423543772848170429916717, 1.0507009873554804934193349852946);
}

/* softplus(x, beta) = log(1 + e^(beta*x)) / beta, through the stable op. */
static IrNode *lower_softplus(LowerCtx *L, const Expr *e, IrNode *const *x) {
  double beta = builtin_arg(e, "beta")->num;
  if (beta == 1) return ir_unary(L->g, OP_SOFTPLUS, x[0]);
  return lower_mul(L, ir_unary(L->g, OP_SOFTPLUS, lower_mul(L, x[0], lower_num(L, beta))), lower_num(L, 1 / beta));
}

/* silu(x) = swish(x) = x * sigmoid(x). */
static IrNode *lower_silu(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return lower_mul(L, x[0], lower_sigmoid(L, e, x));
}

/* gelu(x) = x * Phi(x), Phi the standard normal CDF.  Exact (PyTorch's
 * default): Phi(x) = erfc(-x/sqrt 2)/2, through erfc rather than 1 + erf so
 * the left tail, where Phi is tiny, keeps its relative accuracy.  "tanh":
 * Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))/2, PyTorch's
 * approximate = "tanh". */
static IrNode *lower_gelu(LowerCtx *L, const Expr *e, IrNode *const *x) {
  IrNode *phi;
  if (strcmp(builtin_arg(e, "approximate")->str, "tanh") == 0) {
    IrNode *cube = lower_mul(L, lower_mul(L, x[0], x[0]), x[0]);
    IrNode *u = lower_mul(L, lower_add(L, x[0], lower_mul(L, cube, lower_num(L, 0.044715))),
                          lower_num(L, 0.79788456080286535588));
    phi = lower_add(L, lower_mul(L, ir_unary(L->g, OP_TANH, u), lower_num(L, 0.5)), lower_num(L, 0.5));
  } else {
    IrNode *c = ir_unary(L->g, OP_ERFC, lower_mul(L, x[0], lower_num(L, -0.70710678118654752440)));
    phi = lower_mul(L, c, lower_num(L, 0.5));
  }
  return lower_mul(L, x[0], phi);
}

/* logsumexp over the last per-sample axis, kept with size 1. */
static IrNode *lse_last(LowerCtx *L, IrNode *x, Type t) {
  return lower_reduce(L, OP_LOGSUMEXP, x, t, 1u << (t.shape.ndim - 1), true);
}

static IrNode *lower_softmax(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return ir_unary(L->g, OP_EXP, lower_sub(L, x[0], lse_last(L, x[0], arg_type(e, 0))));
}

static IrNode *lower_log_softmax(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return lower_sub(L, x[0], lse_last(L, x[0], arg_type(e, 0)));
}

/* x @ W (+ b) with x as a vector; returns the [.., units*k] pre-activation. */
static IrNode *affine(LowerCtx *L, const Expr *e, IrNode *x) {
  Type xt = arg_type(e, 0);
  if (xt.shape.ndim == 0) {
    xt.shape = shape_1(1);
    x = to_type(L, x, xt);
  }
  IrNode *w = L->params[e->param0];
  Type wt = {.shape = w->shape};
  IrNode *z = lower_matmul(L, x, xt, w, wt);
  if (e->nparams > 1) z = ir_binary(L->g, OP_ADD, z, L->params[e->param0 + 1]);
  return z;
}

static IrNode *lower_dense(LowerCtx *L, const Expr *e, IrNode *const *x) { return affine(L, e, x[0]); }

/* maxout: one affine map with units*k outputs viewed as [units, k], max over k. */
static IrNode *lower_maxout(LowerCtx *L, const Expr *e, IrNode *const *x) {
  int k = (int)builtin_arg(e, "k")->num;
  IrNode *z = affine(L, e, x[0]);
  Shape s = lower_ir_shape(L, e->type);
  s.dim[s.ndim++] = k;
  IrNode *m = ir_reduce(L->g, OP_RMAX, lower_reshape(L, z, s), 1u << (s.ndim - 1));
  return to_type(L, m, e->type);
}

/* The per-site random stream id: the train seed and the site index mixed. */
static uint32_t site_seed(const LowerCtx *L, int site) {
  uint64_t h = L->m->train.seed * 0x9E3779B97F4A7C15ull + (uint64_t)(site + 1) * 0xBF58476D1CE4E5B9ull;
  h ^= h >> 31;
  return (uint32_t)(h ^ (h >> 32));
}

/* Inverted dropout: keep with probability 1-p and scale by 1/(1-p), so
 * evaluation is the identity.  The counter is the STATE "step", which the
 * train step increments, so every step draws a fresh mask.  With channels,
 * one draw per sample and channel drops a whole channel of a feature map. */
static IrNode *lower_dropout(LowerCtx *L, const Expr *e, IrNode *const *x) {
  double p = builtin_arg(e, "p")->num;
  if (!L->training || p == 0) return x[0];
  if (!L->step) L->step = ir_state(L->g, "step", shape_scalar(), (IrInit){.kind = INIT_ZEROS});
  Shape ms = x[0]->shape;
  if (builtin_arg(e, "channels")->num != 0)
    for (int d = ms.ndim - arg_type(e, 0).shape.ndim + 1; d < ms.ndim; d++) ms.dim[d] = 1;
  /* a shard's samples draw the numbers they have in the whole batch */
  int64_t per_sample = arg_type(e, 0).batched && L->batch ? shape_numel(ms) / L->batch : 0;
  IrNode *r = ir_rand_from(L->g, L->step, ms, site_seed(L, e->site), (uint32_t)(per_sample * L->first));
  IrNode *keep = ir_binary(L->g, OP_CMPLT, r, lower_num(L, 1 - p));
  return lower_mul(L, x[0], lower_mul(L, keep, lower_num(L, 1 / (1 - p))));
}

/* (x - mean) / sqrt(var + eps) * gamma + beta, gamma and beta seen in shape s */
static IrNode *normalize(LowerCtx *L, const Expr *e, IrNode *d, IrNode *var, Shape s) {
  double eps = builtin_arg(e, "eps")->num;
  IrNode *den = ir_unary(L->g, OP_SQRT, lower_add(L, var, lower_num(L, eps)));
  IrNode *y = lower_mul(L, lower_div(L, d, den), lower_reshape(L, L->params[e->param0], s));
  return lower_add(L, y, lower_reshape(L, L->params[e->param0 + 1], s));
}

/* layer_norm: statistics over each sample's features. */
static IrNode *lower_layer_norm(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type t = arg_type(e, 0);
  unsigned ax = all_axes(t.shape.ndim);
  IrNode *d = lower_sub(L, x[0], lower_mean(L, x[0], t, ax));
  return normalize(L, e, d, lower_mean(L, lower_mul(L, d, d), t, ax), t.shape);
}

/* batch_norm: training normalizes with the batch's mean and (biased) variance
 * and moves the running statistics: r = (1-momentum)*r + momentum*stat, with
 * the unbiased variance n/(n-1)*var (PyTorch's convention).  Evaluation uses
 * the running statistics.  Statistics are per feature over the batch, or for
 * a feature map [C, H, W] per channel over the batch and the positions (n =
 * B*H*W), kept in [C]-shaped parameters seen as [C, 1, 1]. */
static IrNode *lower_batch_norm(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type t = arg_type(e, 0);
  bool map = t.shape.ndim == 3;
  Shape stat = map ? shape_1(t.shape.dim[0]) : t.shape, seen = map ? shape_of(3, (int[]){t.shape.dim[0], 1, 1}) : t.shape;
  Arena *a = L->g->arena;
  IrNode *rm = ir_state(L->g, arena_printf(a, "%s.running_mean", e->layer), stat, (IrInit){.kind = INIT_ZEROS});
  IrNode *rv = ir_state(L->g, arena_printf(a, "%s.running_var", e->layer), stat, (IrInit){.kind = INIT_CONST, .a = 1});
  if (!L->training) return normalize(L, e, lower_sub(L, x[0], lower_reshape(L, rm, seen)), lower_reshape(L, rv, seen), seen);
  unsigned axes = map ? 1 | 4 | 8 : 1;   /* the batch axis, and a feature map's positions */
  int64_t n = map ? (int64_t)L->batch * t.shape.dim[1] * t.shape.dim[2] : L->batch;
  double inv_n = 1.0 / (double)n, mom = builtin_arg(e, "momentum")->num;
  IrNode *mean = lower_mul(L, ir_reduce(L->g, OP_SUM, x[0], axes), lower_num(L, inv_n));
  IrNode *d = lower_sub(L, x[0], mean);
  IrNode *var = lower_mul(L, ir_reduce(L->g, OP_SUM, lower_mul(L, d, d), axes), lower_num(L, inv_n));
  double unbias = n > 1 ? (double)n / (double)(n - 1) : 1;
  IrNode *keep = lower_num(L, 1 - mom);
  IrNode *new_mean = lower_reshape(L, lower_mul(L, mean, lower_num(L, mom)), stat);
  IrNode *new_var = lower_reshape(L, lower_mul(L, var, lower_num(L, mom * unbias)), stat);
  ir_update(L->g, rm, lower_add(L, lower_mul(L, rm, keep), new_mean));
  ir_update(L->g, rv, lower_add(L, lower_mul(L, rv, keep), new_var));
  return normalize(L, e, d, var, seen);
}

/* The per-sample axes a reduction call covers. */
static unsigned reduce_axes(const Expr *e) {
  Type t = arg_type(e, 0);
  const ArgVal *ax = builtin_arg(e, "axis");
  if (!ax->present) return all_axes(t.shape.ndim);
  int k = (int)ax->num;
  return 1u << (k < 0 ? k + t.shape.ndim : k);
}

static IrNode *lower_reduce_call(LowerCtx *L, const Expr *e, IrNode *const *x) {
  IrNode *r = lower_reduce(L, (IrOp)e->fn->tag, x[0], arg_type(e, 0), reduce_axes(e), false);
  if (strcmp(e->fn->name, "mean") != 0) return r;
  return lower_mul(L, r, lower_num(L, (double)shape_numel(e->type.shape) / (double)shape_numel(arg_type(e, 0).shape)));
}

static IrNode *lower_reshape_call(LowerCtx *L, const Expr *e, IrNode *const *x) { return to_type(L, x[0], e->type); }

/* The IR axis of per-sample axis k of a value of type t. */
static int ir_axis(const LowerCtx *L, Type t, int k) { return lower_ir_shape(L, t).ndim - t.shape.ndim + k; }

static int axis_arg(const Expr *e, int r) {
  int k = (int)builtin_arg(e, "axis")->num;
  return k < 0 ? k + r : k;
}

/* concat: each operand padded with zeros to the result's size along the
 * axis, at its place, and the pads summed (their gradients are slices). */
static IrNode *lower_concat(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Shape out = lower_ir_shape(L, e->type);
  int k = ir_axis(L, e->type, axis_arg(e, e->type.shape.ndim)), at = 0;
  IrNode *sum = NULL;
  for (int i = 0; i < CONCAT_MAX; i++) {
    if (!e->args[i].present) continue;
    IrNode *v = x[i];
    if (v->shape.ndim < out.ndim) {   /* an unbatched operand, seen once per sample */
      Shape s = out;
      s.dim[k] = v->shape.dim[k - 1];
      v = ir_expand(L->g, v, s);
    }
    IrNode *p = ir_pad(L->g, v, k, at, out.dim[k]);
    at += v->shape.dim[k];
    sum = sum ? lower_add(L, sum, p) : p;
  }
  return sum;
}

static IrNode *lower_slice(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type t = arg_type(e, 0);
  int k = axis_arg(e, t.shape.ndim), start = (int)builtin_arg(e, "start")->num;
  if (start < 0) start += t.shape.dim[k];
  return ir_slice(L->g, x[0], ir_axis(L, t, k), start, e->type.shape.dim[k]);
}

static IrNode *lower_transpose(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type t = arg_type(e, 0);
  const ArgVal *pv = builtin_arg(e, "perm");
  int r = t.shape.ndim, off = ir_axis(L, t, 0), perm[IR_MAX_DIMS];
  for (int d = 0; d < off; d++) perm[d] = d;
  for (int i = 0; i < r; i++) {
    int a = pv->present ? pv->shape.dim[i] : r - 1 - i;
    perm[off + i] = off + (a < 0 ? a + r : a);
  }
  return ir_transpose(L->g, x[0], perm);
}

/* Prediction and target brought to one IR layout (one-element shapes differ). */
static IrNode *target_like(LowerCtx *L, const Expr *e, IrNode *t) {
  Type p = arg_type(e, 0), tt = arg_type(e, 1);
  if (shape_eq(p.shape, tt.shape)) return t;
  tt.shape = p.shape;
  return to_type(L, t, tt);
}

/* Mean over all per-sample axes of v (typed like the prediction), as a per-sample scalar. */
static IrNode *mean_all(LowerCtx *L, const Expr *e, IrNode *v) {
  Type p = arg_type(e, 0);
  p.batched = e->type.batched;
  return to_type(L, lower_mean(L, v, p, all_axes(p.shape.ndim)), e->type);
}

static IrNode *lower_mse(LowerCtx *L, const Expr *e, IrNode *const *x) {
  IrNode *d = lower_sub(L, x[0], target_like(L, e, x[1]));
  return mean_all(L, e, lower_mul(L, d, d));
}

static IrNode *lower_mae(LowerCtx *L, const Expr *e, IrNode *const *x) {
  return mean_all(L, e, ir_unary(L->g, OP_ABS, lower_sub(L, x[0], target_like(L, e, x[1]))));
}

/* binary_cross_entropy from logits: max(x,0) - x*y + log(1 + exp(-|x|)),
 * which never overflows and equals -y log s(x) - (1-y) log(1 - s(x)). */
static IrNode *lower_bce(LowerCtx *L, const Expr *e, IrNode *const *x) {
  IrNode *y = target_like(L, e, x[1]);
  IrNode *e_abs = ir_unary(L->g, OP_EXP, ir_unary(L->g, OP_NEG, ir_unary(L->g, OP_ABS, x[0])));
  IrNode *soft = ir_unary(L->g, OP_LOG, lower_add(L, lower_num(L, 1), e_abs));
  IrNode *relu = ir_binary(L->g, OP_MAX, x[0], lower_num(L, 0));
  IrNode *v = lower_add(L, lower_sub(L, relu, lower_mul(L, x[0], y)), soft);
  return mean_all(L, e, v);
}

/* cross_entropy(x, y) = -sum(y * log_softmax(x)) = sum(y)*lse(x) - sum(y*x);
 * with a one-hot class target sum(y) = 1, so lse(x) - sum(y*x), whose
 * gradient is softmax(x) - y. */
static IrNode *lower_cross_entropy(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type xt = arg_type(e, 0), yt = arg_type(e, 1);
  IrNode *lse = lse_last(L, x[0], xt);
  Type kept = {.shape = shape_1(1), .batched = xt.batched};
  IrNode *xy = lower_elementwise(L, OP_MUL, x[0], xt, x[1], yt);
  Type xyt = {.shape = xt.shape, .batched = e->type.batched};
  IrNode *sxy = lower_reduce(L, OP_SUM, xy, xyt, 1, true);
  Type sxyt = {.shape = shape_1(1), .batched = e->type.batched};
  if (!yt.nclasses) {
    IrNode *sy = lower_reduce(L, OP_SUM, x[1], yt, 1, true);
    lse = lower_elementwise(L, OP_MUL, sy, (Type){.shape = shape_1(1), .batched = yt.batched}, lse, kept);
    kept.batched = e->type.batched;
  }
  return to_type(L, lower_elementwise(L, OP_SUB, lse, kept, sxy, sxyt), e->type);
}

/* l1/l2: lambda * sum |W| or lambda * sum W^2 over every parameter of rank >= 2
 * (weight matrices).  Biases are vectors; normalization layers' gamma and
 * beta take the normalized value's shape, a matrix when the input is one,
 * and are skipped by their layer, not their rank.  No 1/2. */
static bool is_weight_matrix(const ModelParam *p) {
  return p->shape.ndim >= 2 && strcmp(p->layer, "layer_norm") != 0 && strcmp(p->layer, "batch_norm") != 0;
}

static IrNode *lower_regularizer(LowerCtx *L, const Expr *e, IrNode *const *x) {
  (void)x;
  IrNode *sum = lower_num(L, 0);
  for (int i = 0; i < L->m->nparams; i++) {
    IrNode *w = L->params[i];
    if (!is_weight_matrix(&L->m->params[i])) continue;
    IrNode *v = e->fn->tag == OP_ABS ? ir_unary(L->g, OP_ABS, w) : lower_mul(L, w, w);
    sum = lower_add(L, sum, lower_reshape(L, ir_reduce(L->g, OP_SUM, v, all_axes(w->shape.ndim)), shape_scalar()));
  }
  return lower_mul(L, sum, lower_num(L, builtin_arg(e, "lambda")->num));
}

/* ---- the table ---- */

#define X_P {"x", AT_TENSOR, NULL, R_ANY}
#define NAME_P {"name", AT_STR, "", R_ANY}
#define CLIP_P {"clip_value", AT_NUM, "0", R_NONNEG}, {"clip_norm", AT_NUM, "0", R_NONNEG}
#define DECAY_P {"weight_decay", AT_NUM, "0", R_NONNEG}
#define UNARY(nm, op, d) {nm, BK_MATH, 1, {X_P}, check_same, lower_unary, op, d}

const Builtin builtin_table[] = {
    UNARY("exp", OP_EXP, "e^x"),
    UNARY("log", OP_LOG, "natural logarithm"),
    UNARY("sqrt", OP_SQRT, "square root"),
    UNARY("abs", OP_ABS, "|x|"),
    UNARY("sin", OP_SIN, "sine"),
    UNARY("cos", OP_COS, "cosine"),
    {"pow", BK_MATH, 2, {X_P, {"y", AT_TENSOR, NULL, R_ANY}}, check_broadcast2, lower_binary2, OP_POW, "x^y"},
    {"maximum", BK_MATH, 2, {{"a", AT_TENSOR, NULL, R_ANY}, {"b", AT_TENSOR, NULL, R_ANY}}, check_broadcast2,
     lower_binary2, OP_MAX, "elementwise max(a, b)"},
    {"minimum", BK_MATH, 2, {{"a", AT_TENSOR, NULL, R_ANY}, {"b", AT_TENSOR, NULL, R_ANY}}, check_broadcast2,
     lower_binary2, OP_MIN, "elementwise min(a, b)"},
    {"matmul", BK_MATH, 2, {{"a", AT_TENSOR, NULL, R_ANY}, {"b", AT_TENSOR, NULL, R_ANY}}, check_matmul,
     lower_matmul_call, 0, "a @ b per sample (vectors and matrices)"},
    {"tanh", BK_ACTIVATION, 1, {X_P}, check_same, lower_unary, OP_TANH, "tanh x"},
    {"sigmoid", BK_ACTIVATION, 1, {X_P}, check_same, lower_sigmoid, 0, "1/(1+e^-x) = 0.5*tanh(0.5*x)+0.5"},
    {"relu", BK_ACTIVATION, 1, {X_P}, check_same, lower_relu, 0, "max(x, 0)"},
    {"leaky_relu", BK_ACTIVATION, 2, {X_P, {"alpha", AT_NUM, "0.01", R_NONNEG}}, check_same, lower_leaky_relu, 0,
     "max(x, alpha*x) (alpha <= 1); x if x >= 0 else alpha*x"},
    {"elu", BK_ACTIVATION, 2, {X_P, {"alpha", AT_NUM, "1", R_NONNEG}}, check_same, lower_elu, 0,
     "x if x >= 0 else alpha*(e^x - 1)"},
    {"selu", BK_ACTIVATION, 1, {X_P}, check_same, lower_selu, 0,
     "scale * elu(x, alpha), alpha = 1.6732632423543772848, scale = 1.0507009873554804934"},
    {"softplus", BK_ACTIVATION, 2, {X_P, {"beta", AT_NUM, "1", R_POS}}, check_same, lower_softplus, 0,
     "log(1 + e^(beta*x)) / beta, computed stably"},
    {"gelu", BK_ACTIVATION, 2, {X_P, {"approximate", AT_STR, "none", R_ANY}}, check_gelu, lower_gelu, 0,
     "x * Phi(x) = x * erfc(-x/sqrt 2) / 2; approximate = \"tanh\": x * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2"},
    {"silu", BK_ACTIVATION, 1, {X_P}, check_same, lower_silu, 0, "x * sigmoid(x)"},
    {"swish", BK_ACTIVATION, 1, {X_P}, check_same, lower_silu, 0, "same as silu: x * sigmoid(x)"},
    {"softmax", BK_ACTIVATION, 1, {X_P}, check_vector_like, lower_softmax, 0,
     "exp(x - logsumexp(x)) over the last axis"},
    {"log_softmax", BK_ACTIVATION, 1, {X_P}, check_vector_like, lower_log_softmax, 0,
     "x - logsumexp(x) over the last axis"},
    {"dense", BK_LAYER, 2,
     {X_P, {"units", AT_INT, NULL, R_POS}, {"bias", AT_BOOL, "true", R_ANY}, {"init", AT_INIT, "xavier", R_ANY},
      NAME_P},
     check_dense, lower_dense, 0, "x @ W + b; W [in, units] (init), b [units] zeros"},
    {"maxout", BK_LAYER, 3,
     {X_P, {"units", AT_INT, NULL, R_POS}, {"k", AT_INT, "2", R_POS}, {"bias", AT_BOOL, "true", R_ANY},
      {"init", AT_INIT, "xavier", R_ANY}, NAME_P},
     check_maxout, lower_maxout, 0, "max over k pieces of x @ W + b; W [in, units*k]"},
    {"dropout", BK_LAYER, 2, {X_P, {"p", AT_NUM, "0.5", R_UNIT}, {"channels", AT_BOOL, "false", R_ANY}},
     check_dropout, lower_dropout, 0,
     "training: x * (u < 1-p) / (1-p), u uniform (one per channel with channels); evaluation: x"},
    {"layer_norm", BK_LAYER, 2, {X_P, {"eps", AT_NUM, "1e-5", R_POS}, NAME_P}, check_norm, lower_layer_norm, NORM_LAYER,
     "(x - mean) / sqrt(var + eps) * gamma + beta over each sample's features"},
    {"batch_norm", BK_LAYER, 3, {X_P, {"momentum", AT_NUM, "0.1", R_UNIT}, {"eps", AT_NUM, "1e-5", R_POS}, NAME_P},
     check_norm, lower_batch_norm, NORM_BATCH, "(x - mean) / sqrt(var + eps) * gamma + beta over the batch"},
    {"conv2d", BK_LAYER, 3,
     {X_P, {"filters", AT_INT, NULL, R_POS}, {"kernel", AT_PAIR, NULL, R_POS}, {"stride", AT_PAIR, "1", R_POS},
      {"padding", AT_PAD, "0", R_NONNEG}, {"dilation", AT_PAIR, "1", R_POS}, {"groups", AT_INT, "1", R_POS},
      {"bias", AT_BOOL, "true", R_ANY}, {"init", AT_INIT, "kaiming", R_ANY}, NAME_P},
     builtin_check_conv2d, builtin_lower_conv2d, 0,
     "2-D convolution of a [C,H,W] feature map; W [filters, C/groups, kh, kw] (init), b [filters] zeros"},
    {"max_pool2d", BK_LAYER, 2,
     {X_P, {"size", AT_PAIR, NULL, R_POS}, {"stride", AT_PAIR, "", R_POS}, {"padding", AT_PAD, "0", R_NONNEG}},
     builtin_check_pool2d, builtin_lower_pool2d, 0, "the maximum of each window (stride defaults to size)"},
    {"avg_pool2d", BK_LAYER, 2,
     {X_P, {"size", AT_PAIR, NULL, R_POS}, {"stride", AT_PAIR, "", R_POS}, {"padding", AT_PAD, "0", R_NONNEG}},
     builtin_check_pool2d, builtin_lower_pool2d, 0, "the mean of each window, padding counted as 0"},
    {"global_avg_pool", BK_LAYER, 1, {X_P}, builtin_check_global_avg_pool, builtin_lower_global_avg_pool, 0,
     "the mean of each channel of a [C,H,W] feature map: [C]"},
    {"sum", BK_REDUCTION, 2, {X_P, {"axis", AT_INT, "", R_ANY}}, check_reduce, lower_reduce_call, OP_SUM,
     "sum over all per-sample axes, or over axis"},
    {"mean", BK_REDUCTION, 2, {X_P, {"axis", AT_INT, "", R_ANY}}, check_reduce, lower_reduce_call, OP_SUM,
     "mean over all per-sample axes, or over axis"},
    {"max", BK_REDUCTION, 2, {X_P, {"axis", AT_INT, "", R_ANY}}, check_reduce, lower_reduce_call, OP_RMAX,
     "max over all per-sample axes, or over axis"},
    {"min", BK_REDUCTION, 2, {X_P, {"axis", AT_INT, "", R_ANY}}, check_reduce, lower_reduce_call, OP_RMIN,
     "min over all per-sample axes, or over axis"},
    {"flatten", BK_SHAPE, 1, {X_P}, check_flatten, lower_reshape_call, 0, "the per-sample value as a vector"},
    {"reshape", BK_SHAPE, 2, {X_P, {"shape", AT_SHAPE, NULL, R_ANY}}, check_reshape, lower_reshape_call, 0,
     "same elements, new per-sample shape (one size may be -1)"},
    {"concat", BK_SHAPE, CONCAT_MAX,
     {{"a", AT_TENSOR, NULL, R_ANY}, {"b", AT_TENSOR, NULL, R_ANY}, {"c", AT_TENSOR, "", R_ANY},
      {"d", AT_TENSOR, "", R_ANY}, {"e", AT_TENSOR, "", R_ANY}, {"f", AT_TENSOR, "", R_ANY}, {"g", AT_TENSOR, "", R_ANY},
      {"h", AT_TENSOR, "", R_ANY}, {"axis", AT_INT, "0", R_ANY}},
     check_concat, lower_concat, 0, "2 to 8 values joined along axis; sizes on the other axes agree"},
    {"slice", BK_SHAPE, 3,
     {X_P, {"start", AT_INT, NULL, R_ANY}, {"end", AT_INT, "", R_ANY}, {"axis", AT_INT, "0", R_ANY}}, check_slice,
     lower_slice, 0, "elements [start, end) of axis (end: the axis's size; negative counts from the end)"},
    {"transpose", BK_SHAPE, 2, {X_P, {"perm", AT_AXES, "", R_ANY}}, check_transpose, lower_transpose, 0,
     "the axes reversed, or out axis i = x's axis perm[i]"},
    {"mse", BK_LOSS, 2, {{"pred", AT_TENSOR, NULL, R_ANY}, {"target", AT_TENSOR, NULL, R_ANY}}, check_pointwise_loss,
     lower_mse, 0, "mean((pred - target)^2)"},
    {"mae", BK_LOSS, 2, {{"pred", AT_TENSOR, NULL, R_ANY}, {"target", AT_TENSOR, NULL, R_ANY}}, check_pointwise_loss,
     lower_mae, 0, "mean(|pred - target|)"},
    {"binary_cross_entropy", BK_LOSS, 2, {{"logits", AT_TENSOR, NULL, R_ANY}, {"target", AT_TENSOR, NULL, R_ANY}},
     check_bce, lower_bce, 0, "mean(max(x,0) - x*y + log(1 + e^-|x|)) (sigmoid fused)"},
    {"cross_entropy", BK_LOSS, 2, {{"logits", AT_TENSOR, NULL, R_ANY}, {"target", AT_TENSOR, NULL, R_ANY}},
     check_cross_entropy, lower_cross_entropy, 0, "-sum(y * log_softmax(x)) = sum(y)*logsumexp(x) - sum(y*x)"},
    {"l1", BK_REGULARIZER, 1, {{"lambda", AT_NUM, NULL, R_NONNEG}}, NULL, lower_regularizer, OP_ABS,
     "lambda * sum |W| over params of rank >= 2"},
    {"l2", BK_REGULARIZER, 1, {{"lambda", AT_NUM, NULL, R_NONNEG}}, NULL, lower_regularizer, OP_MUL,
     "lambda * sum W^2 over params of rank >= 2 (no 1/2)"},
    {"zeros", BK_INITIALIZER, 0, {{NULL}}, NULL, NULL, INIT_ZEROS, "all 0"},
    {"normal", BK_INITIALIZER, 2, {{"std", AT_NUM, NULL, R_NONNEG}, {"mean", AT_NUM, "0", R_ANY}}, NULL, NULL,
     INIT_NORMAL, "N(mean, std^2)"},
    {"uniform", BK_INITIALIZER, 2, {{"lo", AT_NUM, NULL, R_ANY}, {"hi", AT_NUM, NULL, R_ANY}}, check_uniform, NULL,
     INIT_UNIFORM, "U[lo, hi)"},
    {"xavier", BK_INITIALIZER, 0, {{NULL}}, NULL, NULL, INIT_XAVIER, "N(0, 2/(fan_in + fan_out))"},
    {"glorot", BK_INITIALIZER, 0, {{NULL}}, NULL, NULL, INIT_XAVIER, "same as xavier"},
    {"kaiming", BK_INITIALIZER, 0, {{NULL}}, NULL, NULL, INIT_KAIMING, "N(0, 2/fan_in)"},
    {"he", BK_INITIALIZER, 0, {{NULL}}, NULL, NULL, INIT_KAIMING, "same as kaiming"},
    {"sgd", BK_OPTIMIZER, 1, {{"lr", AT_NUM, "0.01", R_POS}, CLIP_P, DECAY_P}, NULL, NULL, OPT_SGD, "w -= lr*g"},
    {"momentum", BK_OPTIMIZER, 1,
     {{"lr", AT_NUM, "0.01", R_POS}, {"gamma", AT_NUM, "0.9", R_UNIT}, {"nesterov", AT_BOOL, "false", R_ANY}, CLIP_P,
      DECAY_P},
     NULL, NULL, OPT_MOMENTUM, "v = gamma*v - lr*g; w += v (nesterov: w += gamma*v - lr*g)"},
    {"adagrad", BK_OPTIMIZER, 1, {{"lr", AT_NUM, "0.01", R_POS}, {"eps", AT_NUM, "1e-8", R_POS}, CLIP_P, DECAY_P}, NULL, NULL,
     OPT_ADAGRAD, "G += g^2; w -= lr*g/sqrt(G + eps)"},
    {"rmsprop", BK_OPTIMIZER, 1,
     {{"lr", AT_NUM, "0.001", R_POS}, {"beta", AT_NUM, "0.9", R_UNIT}, {"eps", AT_NUM, "1e-8", R_POS}, CLIP_P, DECAY_P},
     NULL,
     NULL, OPT_RMSPROP, "v = beta*v + (1-beta)*g^2; w -= lr*g/(sqrt(v) + eps)"},
    {"adam", BK_OPTIMIZER, 1,
     {{"lr", AT_NUM, "0.001", R_POS}, {"beta1", AT_NUM, "0.9", R_UNIT}, {"beta2", AT_NUM, "0.999", R_UNIT},
      {"eps", AT_NUM, "1e-8", R_POS}, CLIP_P, DECAY_P},
     NULL, NULL, OPT_ADAM, "bias-corrected moments; w -= lr*mhat/(sqrt(vhat) + eps)"},
    {"adamw", BK_OPTIMIZER, 1,
     {{"lr", AT_NUM, "0.001", R_POS}, {"beta1", AT_NUM, "0.9", R_UNIT}, {"beta2", AT_NUM, "0.999", R_UNIT},
      {"eps", AT_NUM, "1e-8", R_POS}, CLIP_P, {"weight_decay", AT_NUM, "0.01", R_NONNEG}},
     NULL, NULL, OPT_ADAMW, "adam with decoupled weight decay: w *= 1 - lr*weight_decay, then the adam step"},
    {"step", BK_SCHEDULE, 2, {{"every", AT_INT, NULL, R_POS}, {"gamma", AT_NUM, "0.1", R_POS}}, NULL, NULL,
     SCHED_STEP, "lr * gamma^floor(epoch / every)"},
    {"cosine", BK_SCHEDULE, 1, {{"warmup", AT_INT, "0", R_NONNEG}, {"min", AT_NUM, "0", R_NONNEG}}, NULL, NULL,
     SCHED_COSINE, "linear warmup over `warmup` epochs, then a half cosine from lr down to min"},
    {"exponential", BK_SCHEDULE, 1, {{"gamma", AT_NUM, NULL, R_POS}}, NULL, NULL, SCHED_EXPONENTIAL,
     "lr * gamma^epoch"},
    {"reduce_on_plateau", BK_SCHEDULE, 2,
     {{"patience", AT_INT, "2", R_POS}, {"factor", AT_NUM, "0.1", R_UNIT}, {"min", AT_NUM, "0", R_NONNEG}}, NULL,
     NULL, SCHED_PLATEAU, "lr * factor after `patience` epochs without a lower validation (else training) loss"},
    {"idx", BK_DATA, 1,
     {{"path", AT_STR, "", R_ANY}, {"scale", AT_NUM, "1", R_POS}, {"standardize", AT_BOOL, "false", R_ANY},
      {"images", AT_STR, "", R_ANY}, {"labels", AT_STR, "", R_ANY}},
     NULL, NULL, DATA_IDX, "IDX image/label files PATH-images-idx3-ubyte[.gz], PATH-labels-idx1-ubyte[.gz]"},
    {"csv", BK_DATA, 1,
     {{"path", AT_STR, NULL, R_ANY}, {"header", AT_BOOL, "false", R_ANY}, {"targets", AT_STR, "last", R_ANY},
      {"scale", AT_NUM, "1", R_POS}, {"standardize", AT_BOOL, "false", R_ANY}},
     NULL, NULL, DATA_CSV, "numbers, one sample per row; target columns last (or first)"},
};
const int builtin_count = (int)COUNT_OF(builtin_table);

const Builtin *builtin_find(const char *name) {
  for (int i = 0; i < builtin_count; i++)
    if (strcmp(builtin_table[i].name, name) == 0) return &builtin_table[i];
  return NULL;
}

int builtin_param_index(const Builtin *b, const char *name) {
  for (int i = 0; i < BUILTIN_MAX_PARAMS && b->params[i].name; i++)
    if (strcmp(b->params[i].name, name) == 0) return i;
  return -1;
}

const ArgVal *builtin_arg(const Expr *e, const char *name) {
  int i = builtin_param_index(e->fn, name);
  if (i < 0) die("builtin %s has no parameter %s", e->fn->name, name);
  return &e->args[i];
}

/* True if a and b differ only by two adjacent letters swapped ("cvs" and
 * "csv"): edit distance counts that as two edits, more than closest_name
 * allows for a short name, yet it is the commonest typo. */
static bool swapped_pair(const char *a, const char *b) {
  size_t n = strlen(a), i = 0;
  if (n != strlen(b)) return false;
  while (i < n && a[i] == b[i]) i++;
  return i + 1 < n && a[i] == b[i + 1] && a[i + 1] == b[i] && strcmp(a + i + 2, b + i + 2) == 0;
}

const char *builtin_closest(const char *name, BuiltinKind kind) {
  const char *names[64];
  int n = 0;
  for (int i = 0; i < builtin_count && n < (int)COUNT_OF(names); i++)
    if (builtin_table[i].kind == kind) names[n++] = builtin_table[i].name;
  const char *near = closest_name(name, names, n);
  for (int i = 0; !near && i < n; i++)
    if (swapped_pair(name, names[i])) near = names[i];
  return near;
}

const char *builtin_kind_name(BuiltinKind k) {
  static const char *const names[] = {
      [BK_MATH] = "math function",     [BK_ACTIVATION] = "activation", [BK_LAYER] = "layer",
      [BK_REDUCTION] = "reduction",    [BK_SHAPE] = "shape function",  [BK_LOSS] = "loss",
      [BK_REGULARIZER] = "regularizer", [BK_INITIALIZER] = "initializer", [BK_OPTIMIZER] = "optimizer",
      [BK_DATA] = "data source",        [BK_SCHEDULE] = "learning-rate schedule",
  };
  return names[k];
}
