/* ops: the op table, every op's rules side by side.
 *
 * In:  ops.def, the one list of ops.
 * Out: op_info[OP_COUNT], built by expanding ops.def, so a row without rules is
 *      a compile error: each op ID needs a RULES_ID macro below, giving its
 *      scalar evaluator rule (double), the reduction identity, and its gradient
 *      (VJP) rule.
 *
 * Gradient rules see the forward node n and the adjoint g of its output (g has
 * n's shape) and hand each source's contribution to grad_accum, which undoes
 * broadcasting; so rules never worry about shapes of broadcast operands.
 * Rules reuse n itself where the derivative is a function of the output
 * (exp, expm1, sqrt, tanh, softplus, div, pow, logsumexp) so hash-consing shares the value.
 * Ops whose derivative is zero almost everywhere (sign, cmplt, rand) have a
 * rule that contributes nothing; only leaves have no rule at all.
 */
#include <math.h>
#include <stddef.h>

#include "grad.h"
#include "ir.h"

/* ---- shorthands for building gradient expressions in G's graph ---- */

static IrNode *K(GradCtx *G, double v) { return ir_const(G->g, v); }
static IrNode *un(GradCtx *G, IrOp op, IrNode *a) { return ir_unary(G->g, op, a); }
static IrNode *bin(GradCtx *G, IrOp op, IrNode *a, IrNode *b) { return ir_binary(G->g, op, a, b); }
static IrNode *mul(GradCtx *G, IrNode *a, IrNode *b) { return bin(G, OP_MUL, a, b); }
static IrNode *sel(GradCtx *G, IrNode *c, IrNode *a, IrNode *b) { return ir_where(G->g, c, a, b); }

/* For ops whose derivative is zero wherever it exists: no contribution, so the
 * sources' adjoints stay exactly zero unless another path reaches them. */
static void grad_zero(GradCtx *G, IrNode *n, IrNode *g) {
  (void)G;
  (void)n;
  (void)g;
}

/* ---- leaves: values come from outside; nothing to propagate ---- */
#define RULES_INPUT NULL, 0, NULL
#define RULES_PARAM NULL, 0, NULL
#define RULES_STATE NULL, 0, NULL
#define RULES_CONST NULL, 0, NULL

/* ---- elementwise unary ---- */

static double s_neg(double a, double b, double c) { (void)b, (void)c; return -a; }
static void grad_neg(GradCtx *G, IrNode *n, IrNode *g) { grad_accum(G, n->src[0], un(G, OP_NEG, g)); }
#define RULES_NEG s_neg, 0, grad_neg

static double s_exp(double a, double b, double c) { (void)b, (void)c; return exp(a); }
/* d e^a = e^a: reuse the output */
static void grad_exp(GradCtx *G, IrNode *n, IrNode *g) { grad_accum(G, n->src[0], mul(G, g, n)); }
#define RULES_EXP s_exp, 0, grad_exp

static double s_expm1(double a, double b, double c) { (void)b, (void)c; return expm1(a); }
/* d (e^a - 1) = e^a = out + 1 */
static void grad_expm1(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], mul(G, g, bin(G, OP_ADD, n, K(G, 1))));
}
#define RULES_EXPM1 s_expm1, 0, grad_expm1

static double s_log(double a, double b, double c) { (void)b, (void)c; return log(a); }
static void grad_log(GradCtx *G, IrNode *n, IrNode *g) { grad_accum(G, n->src[0], bin(G, OP_DIV, g, n->src[0])); }
#define RULES_LOG s_log, 0, grad_log

static double s_sqrt(double a, double b, double c) { (void)b, (void)c; return sqrt(a); }
/* d sqrt a = 0.5 / sqrt a */
static void grad_sqrt(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], bin(G, OP_DIV, mul(G, g, K(G, 0.5)), n));
}
#define RULES_SQRT s_sqrt, 0, grad_sqrt

static double s_abs(double a, double b, double c) { (void)b, (void)c; return fabs(a); }
static void grad_abs(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], mul(G, g, un(G, OP_SIGN, n->src[0])));
}
#define RULES_ABS s_abs, 0, grad_abs

static double s_sign(double a, double b, double c) { (void)b, (void)c; return a < 0 ? -1 : a > 0 ? 1 : 0; }
#define RULES_SIGN s_sign, 0, grad_zero

static double s_sin(double a, double b, double c) { (void)b, (void)c; return sin(a); }
static void grad_sin(GradCtx *G, IrNode *n, IrNode *g) { grad_accum(G, n->src[0], mul(G, g, un(G, OP_COS, n->src[0]))); }
#define RULES_SIN s_sin, 0, grad_sin

static double s_cos(double a, double b, double c) { (void)b, (void)c; return cos(a); }
static void grad_cos(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], un(G, OP_NEG, mul(G, g, un(G, OP_SIN, n->src[0]))));
}
#define RULES_COS s_cos, 0, grad_cos

static double s_tanh(double a, double b, double c) { (void)b, (void)c; return tanh(a); }
/* d tanh a = 1 - tanh^2 a */
static void grad_tanh(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], mul(G, g, bin(G, OP_SUB, K(G, 1), mul(G, n, n))));
}
#define RULES_TANH s_tanh, 0, grad_tanh

static double s_softplus(double a, double b, double c) {
  (void)b, (void)c;
  return fmax(a, 0) + log1p(exp(-fabs(a)));
}
/* d softplus a = sigmoid a = e^(a - softplus a): reuse the output (exact
 * in both tails: a - out is -log1p(e^-a) for large a and a for very negative a) */
static void grad_softplus(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], mul(G, g, un(G, OP_EXP, bin(G, OP_SUB, n->src[0], n))));
}
#define RULES_SOFTPLUS s_softplus, 0, grad_softplus

static double s_erfc(double a, double b, double c) { (void)b, (void)c; return erfc(a); }
/* d erfc a = -(2/sqrt pi) e^(-a^2) */
static void grad_erfc(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0], *bell = un(G, OP_EXP, un(G, OP_NEG, mul(G, a, a)));
  grad_accum(G, a, mul(G, g, mul(G, bell, K(G, -1.1283791670955126))));
}
#define RULES_ERFC s_erfc, 0, grad_erfc

/* ---- elementwise binary ---- */

static double s_add(double a, double b, double c) { (void)c; return a + b; }
static void grad_add(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], g);
  grad_accum(G, n->src[1], g);
}
#define RULES_ADD s_add, 0, grad_add

static double s_sub(double a, double b, double c) { (void)c; return a - b; }
static void grad_sub(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], g);
  grad_accum(G, n->src[1], un(G, OP_NEG, g));
}
#define RULES_SUB s_sub, 0, grad_sub

static double s_mul(double a, double b, double c) { (void)c; return a * b; }
static void grad_mul(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], mul(G, g, n->src[1]));
  grad_accum(G, n->src[1], mul(G, g, n->src[0]));
}
#define RULES_MUL s_mul, 0, grad_mul

static double s_div(double a, double b, double c) { (void)c; return a / b; }
/* d(a/b)/db = -a/b^2 = -(a/b)/b: reuse the output */
static void grad_div(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], bin(G, OP_DIV, g, n->src[1]));
  grad_accum(G, n->src[1], un(G, OP_NEG, bin(G, OP_DIV, mul(G, g, n), n->src[1])));
}
#define RULES_DIV s_div, 0, grad_div

static double s_pow(double a, double b, double c) { (void)c; return pow(a, b); }
/* d a^b/da = b a^(b-1); d a^b/db = ln(a) a^b, built only for a non-constant
 * exponent so x^2 of a negative x never produces log of a negative number. */
static void grad_pow(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0], *b = n->src[1];
  grad_accum(G, a, mul(G, g, mul(G, b, bin(G, OP_POW, a, bin(G, OP_SUB, b, K(G, 1))))));
  if (b->op != OP_CONST) grad_accum(G, b, mul(G, g, mul(G, un(G, OP_LOG, a), n)));
}
#define RULES_POW s_pow, 0, grad_pow

/* 1 - a^b: Adam's bias correction 1 - beta^t, whose cancellation a float
 * pow followed by a float subtraction would turn into a relative error of
 * 1e-5 (the code generator evaluates it in double).  d/da = -b a^(b-1),
 * d/db = -ln(a) a^b = ln(a) (out - 1). */
static double s_pow1m(double a, double b, double c) { (void)c; return 1 - pow(a, b); }
static void grad_pow1m(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0], *b = n->src[1];
  grad_accum(G, a, un(G, OP_NEG, mul(G, g, mul(G, b, bin(G, OP_POW, a, bin(G, OP_SUB, b, K(G, 1)))))));
  grad_accum(G, b, mul(G, g, mul(G, un(G, OP_LOG, a), bin(G, OP_SUB, n, K(G, 1)))));
}
#define RULES_POW1M s_pow1m, 0, grad_pow1m

/* max and min pass the gradient to the operand that won (a_wins: 1 where a
 * did), so on ties it goes to b */
static void route_to_winner(GradCtx *G, IrNode *n, IrNode *g, IrNode *a_wins) {
  IrNode *zero = K(G, 0);
  grad_accum(G, n->src[0], sel(G, a_wins, g, zero));
  grad_accum(G, n->src[1], sel(G, a_wins, zero, g));
}

/* max: a wins only when b < a, which is when b < max(a, b), NaNs included;
 * asking the result lets the backward pass read the ReLU's output, so its
 * input need not be stored */
static double s_max(double a, double b, double c) { (void)c; return b < a ? a : b; }
static void grad_max(GradCtx *G, IrNode *n, IrNode *g) { route_to_winner(G, n, g, bin(G, OP_CMPLT, n->src[1], n)); }
#define RULES_MAX s_max, 0, grad_max

/* min: a wins only when a < b, which is when min(a, b) < b (as for max) */
static double s_min(double a, double b, double c) { (void)c; return a < b ? a : b; }
static void grad_min(GradCtx *G, IrNode *n, IrNode *g) { route_to_winner(G, n, g, bin(G, OP_CMPLT, n, n->src[1])); }
#define RULES_MIN s_min, 0, grad_min

static double s_cmplt(double a, double b, double c) { (void)c; return a < b ? 1 : 0; }
#define RULES_CMPLT s_cmplt, 0, grad_zero

/* ---- select: the condition is not differentiable ---- */

static double s_where(double c, double a, double b) { return c != 0 ? a : b; }
static void grad_where(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *c = n->src[0], *zero = K(G, 0);
  grad_accum(G, n->src[1], sel(G, c, g, zero));
  grad_accum(G, n->src[2], sel(G, c, zero, g));
}
#define RULES_WHERE s_where, 0, grad_where

/* ---- reductions: scalar = combine(acc, x), starting from the identity ---- */

static double s_sum(double acc, double x, double c) { (void)c; return acc + x; }
/* every input element contributed once: spread g back over the reduced axes */
static void grad_sum(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], ir_expand(G->g, g, n->src[0]->shape));
}
#define RULES_SUM s_sum, 0, grad_sum

static double s_rmax(double acc, double x, double c) { (void)c; return fmax(acc, x); }
/* g goes to every element equal to the maximum (each tied element gets all
 * of g; ties have measure zero for real data) */
static void grad_rmax(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0];
  grad_accum(G, a, sel(G, bin(G, OP_CMPLT, a, n), K(G, 0), g));
}
#define RULES_RMAX s_rmax, -INFINITY, grad_rmax

static double s_rmin(double acc, double x, double c) { (void)c; return fmin(acc, x); }
/* like reduce_max: g goes to every element equal to the minimum */
static void grad_rmin(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0];
  grad_accum(G, a, sel(G, bin(G, OP_CMPLT, n, a), K(G, 0), g));
}
#define RULES_RMIN s_rmin, INFINITY, grad_rmin

/* log(e^acc + e^x) without overflow: max + log1p(e^-|acc-x|) */
static double s_logsumexp(double acc, double x, double c) {
  (void)c;
  if (acc == -INFINITY) return x;
  if (x == -INFINITY) return acc;
  double hi = acc > x ? acc : x;
  if (isinf(hi)) return hi;
  return hi + log1p(exp(-fabs(acc - x)));
}
/* d logsumexp/da_i = softmax_i = e^(a_i - out) */
static void grad_logsumexp(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], mul(G, g, un(G, OP_EXP, bin(G, OP_SUB, n->src[0], n))));
}
#define RULES_LOGSUMEXP s_logsumexp, -INFINITY, grad_logsumexp

/* ---- movement ---- */

static void grad_reshape(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], ir_reshape(G->g, g, n->src[0]->shape));
}
#define RULES_RESHAPE NULL, 0, grad_reshape

/* grad_accum sums g over the stretched axes */
static void grad_expand(GradCtx *G, IrNode *n, IrNode *g) { grad_accum(G, n->src[0], g); }
#define RULES_EXPAND NULL, 0, grad_expand

static void grad_transpose(GradCtx *G, IrNode *n, IrNode *g) {
  int inv[IR_MAX_DIMS] = {0};
  for (int k = 0; k < n->shape.ndim; k++) inv[n->perm[k]] = k;
  grad_accum(G, n->src[0], ir_transpose(G->g, g, inv));
}
#define RULES_TRANSPOSE NULL, 0, grad_transpose

/* ---- ranges: slice and pad are each other's adjoints ---- */

static void grad_slice(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0];
  grad_accum(G, a, ir_pad(G->g, g, n->range.axis, n->range.start, a->shape.dim[n->range.axis]));
}
#define RULES_SLICE NULL, 0, grad_slice

static void grad_pad(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0];
  grad_accum(G, a, ir_slice(G->g, g, n->range.axis, n->range.start, a->shape.dim[n->range.axis]));
}
#define RULES_PAD NULL, 0, grad_pad

/* ---- contraction ----
 * out = A B with A = a or a^T, B = b or b^T.  dA = g B^T and dB = A^T g; when a
 * operand enters transposed its gradient is the transpose, which the flags
 * absorb (e.g. ta: da = dA^T = B g^T). */
static void grad_matmul(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *a = n->src[0], *b = n->src[1];
  IrGraph *gr = G->g;
  IrNode *da = n->ta ? ir_matmul(gr, b, g, n->tb, true) : ir_matmul(gr, g, b, false, !n->tb);
  IrNode *db = n->tb ? ir_matmul(gr, g, a, true, n->ta) : ir_matmul(gr, a, g, !n->ta, false);
  grad_accum(G, a, da);
  grad_accum(G, b, db);
}
#define RULES_MATMUL NULL, 0, grad_matmul

/* ---- randomness: the counter is not differentiable ---- */
#define RULES_RAND NULL, 0, grad_zero

/* ---- sliding windows ----
 * conv2d(x, w) is linear in x and in w; conv2d_data and conv2d_filter are
 * its adjoints in each (the backward data and weight gradients), so the
 * three differentiate into one another: with z the adjoint of the output,
 *   <z, data(g, w)> = <conv(z, w), g>  and  <z, filter(x, g)> = <conv(x, z), g>.
 * max_pool2d(a, v) picks v at a's first maximum, a locally constant choice,
 * so only v has a gradient, max_unpool2d(a, g) routing it back; the
 * unpools are the pools' adjoints and differentiate back into them. */

static IrNode *win(GradCtx *G, IrOp op, IrNode *a, IrNode *b, const IrNode *n, Shape s) {
  return ir_window(G->g, op, a, b, n->win, s);
}

static void grad_conv2d(GradCtx *G, IrNode *n, IrNode *g) {
  IrNode *x = n->src[0], *w = n->src[1];
  grad_accum(G, x, win(G, OP_CONV2D_DATA, g, w, n, x->shape));
  grad_accum(G, w, win(G, OP_CONV2D_FILTER, x, g, n, w->shape));
}
#define RULES_CONV2D NULL, 0, grad_conv2d

static void grad_conv2d_data(GradCtx *G, IrNode *n, IrNode *z) {
  IrNode *g = n->src[0], *w = n->src[1];
  grad_accum(G, g, win(G, OP_CONV2D, z, w, n, g->shape));
  grad_accum(G, w, win(G, OP_CONV2D_FILTER, z, g, n, w->shape));
}
#define RULES_CONV2D_DATA NULL, 0, grad_conv2d_data

static void grad_conv2d_filter(GradCtx *G, IrNode *n, IrNode *z) {
  IrNode *x = n->src[0], *g = n->src[1];
  grad_accum(G, x, win(G, OP_CONV2D_DATA, g, z, n, x->shape));
  grad_accum(G, g, win(G, OP_CONV2D, x, z, n, g->shape));
}
#define RULES_CONV2D_FILTER NULL, 0, grad_conv2d_filter

static void grad_max_pool2d(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[1], win(G, OP_MAX_UNPOOL2D, n->src[0], g, n, n->src[1]->shape));
}
#define RULES_MAX_POOL2D NULL, 0, grad_max_pool2d

static void grad_max_unpool2d(GradCtx *G, IrNode *n, IrNode *z) {
  grad_accum(G, n->src[1], win(G, OP_MAX_POOL2D, n->src[0], z, n, n->src[1]->shape));
}
#define RULES_MAX_UNPOOL2D NULL, 0, grad_max_unpool2d

static void grad_avg_pool2d(GradCtx *G, IrNode *n, IrNode *g) {
  grad_accum(G, n->src[0], win(G, OP_AVG_UNPOOL2D, g, NULL, n, n->src[0]->shape));
}
#define RULES_AVG_POOL2D NULL, 0, grad_avg_pool2d

static void grad_avg_unpool2d(GradCtx *G, IrNode *n, IrNode *z) {
  grad_accum(G, n->src[0], win(G, OP_AVG_POOL2D, z, NULL, n, n->src[0]->shape));
}
#define RULES_AVG_UNPOOL2D NULL, 0, grad_avg_unpool2d

/* ---- attribute schemas: which members of the attribute block an op uses,
 * in printing order (docs/ir.md, "Text form") ---- */

#define FIELD(name, format, member, count) \
  {name, format, (int)(offsetof(IrNode, member) - offsetof(IrNode, attr_words)), count}

static const AttrField attrs_none[] = {{0}};
static const AttrField attrs_value[] = {FIELD("value", AF_NUMBER, value, 0), {0}};
static const AttrField attrs_axes[] = {FIELD("axes", AF_AXES, axes, 0), {0}};
static const AttrField attrs_perm[] = {FIELD("perm", AF_INTS, perm, 0), {0}};
static const AttrField attrs_matmul[] = {FIELD("ta", AF_FLAG, ta, 0), FIELD("tb", AF_FLAG, tb, 0), {0}};
static const AttrField attrs_range[] = {FIELD("axis", AF_UINT, range.axis, 0), FIELD("start", AF_UINT, range.start, 0),
                                        {0}};
static const AttrField attrs_seed[] = {FIELD("seed", AF_UINT, seed, 0), FIELD("first", AF_UINT_NZ, first, 0), {0}};
static const AttrField attrs_conv[] = {FIELD("stride", AF_INTS, win.stride, 2), FIELD("pad", AF_INTS, win.pad, 4),
                                       FIELD("dilation", AF_INTS, win.dilation, 2),
                                       FIELD("groups", AF_UINT, win.groups, 0), {0}};
static const AttrField attrs_pool[] = {FIELD("size", AF_INTS, win.size, 2), FIELD("stride", AF_INTS, win.stride, 2),
                                       FIELD("pad", AF_INTS, win.pad, 4), {0}};

const OpInfo op_info[OP_COUNT] = {
#define OP(id, name, kind, arity, attrs, doc) [OP_##id] = {name, kind, arity, attrs_##attrs, doc, RULES_##id},
#include "ops.def"
#undef OP
};
