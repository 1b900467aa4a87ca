/* lower: checked expressions (per-sample types) to batched IR.
 *
 * A batched value of per-sample shape S is the IR shape [B, S...]; an
 * unbatched one is S itself.  NumPy broadcasting aligns shapes on the right,
 * which is right for unbatched operands but not for two batched operands of
 * different per-sample rank, so lower_elementwise pads the lower-rank batched
 * operand with size-1 axes after the batch axis.  Builtin calls lower through
 * their table entry (builtins.c); this file holds the walk, the batch-aware
 * helpers, the loss average and the forward/grad graph entry points.
 */
#include "lower.h"

#include <string.h>

#include "builtins.h"
#include "grad.h"

bool lower_has_batch(const Model *m) { return m->ninputs > 0 || m->ntargets > 0; }

Shape lower_ir_shape(const LowerCtx *L, Type t) {
  if (!t.batched || L->batch == 0) return t.shape;
  Shape s = {.ndim = t.shape.ndim + 1};
  if (s.ndim > IR_MAX_DIMS) die("per-sample rank %d too large for a batched value", t.shape.ndim);
  s.dim[0] = L->batch;
  for (int i = 0; i < t.shape.ndim; i++) s.dim[i + 1] = t.shape.dim[i];
  return s;
}

IrNode *lower_reshape(LowerCtx *L, IrNode *x, Shape s) { return shape_eq(x->shape, s) ? x : ir_reshape(L->g, x, s); }

IrNode *lower_num(LowerCtx *L, double v) { return ir_const(L->g, v); }
IrNode *lower_add(LowerCtx *L, IrNode *a, IrNode *b) { return ir_binary(L->g, OP_ADD, a, b); }
IrNode *lower_sub(LowerCtx *L, IrNode *a, IrNode *b) { return ir_binary(L->g, OP_SUB, a, b); }
IrNode *lower_mul(LowerCtx *L, IrNode *a, IrNode *b) { return ir_binary(L->g, OP_MUL, a, b); }
IrNode *lower_div(LowerCtx *L, IrNode *a, IrNode *b) { return ir_binary(L->g, OP_DIV, a, b); }

/* A batched value padded to per-sample rank r: [B, 1.., S...]. */
static IrNode *pad_rank(LowerCtx *L, IrNode *x, Type t, int r) {
  if (!t.batched || L->batch == 0 || t.shape.ndim >= r) return x;
  Type p = {.batched = true, .shape = {.ndim = r}};
  for (int i = 0; i < r; i++) p.shape.dim[i] = i < r - t.shape.ndim ? 1 : t.shape.dim[i - (r - t.shape.ndim)];
  return lower_reshape(L, x, lower_ir_shape(L, p));
}

IrNode *lower_elementwise(LowerCtx *L, IrOp op, IrNode *a, Type ta, IrNode *b, Type tb) {
  int r = ta.shape.ndim > tb.shape.ndim ? ta.shape.ndim : tb.shape.ndim;
  return ir_binary(L->g, op, pad_rank(L, a, ta, r), pad_rank(L, b, tb, r));
}

IrNode *lower_matmul(LowerCtx *L, IrNode *a, Type ta, IrNode *b, Type tb) {
  IrGraph *g = L->g;
  int ra = ta.shape.ndim, rb = tb.shape.ndim, n = tb.shape.dim[0];
  int m = ra == 2 ? ta.shape.dim[0] : 1, k = rb == 2 ? tb.shape.dim[1] : 1;
  bool ba = ta.batched && L->batch, bb = tb.batched && L->batch;
  Type rt = {.batched = ba || bb};
  if (ra == 2) rt.shape.dim[rt.shape.ndim++] = m;
  if (rb == 2) rt.shape.dim[rt.shape.ndim++] = k;
  IrNode *r;
  if (!bb) {   /* [rows, n] @ [n, k], rows covering the batch when a is batched */
    int rows = (ba ? L->batch : 1) * m;
    r = ir_matmul(g, lower_reshape(L, a, shape_2(rows, n)), lower_reshape(L, b, shape_2(n, k)), false, false);
  } else if (rb == 1) {   /* per sample a[m,n] @ b[n]: b [B,n] times a^T */
    r = ir_matmul(g, b, lower_reshape(L, a, shape_2(m, n)), false, true);
  } else {   /* per sample a[m,n] @ b[n,k]: gather the batch into the columns */
    int perm[3] = {1, 0, 2};
    IrNode *bt = lower_reshape(L, ir_transpose(g, b, perm), shape_2(n, L->batch * k));
    IrNode *prod = ir_matmul(g, lower_reshape(L, a, shape_2(m, n)), bt, false, false);
    IrNode *p = lower_reshape(L, prod, shape_of(3, (int[]){m, L->batch, k}));
    r = ir_transpose(g, p, perm);
  }
  return lower_reshape(L, r, lower_ir_shape(L, rt));
}

IrNode *lower_reduce(LowerCtx *L, IrOp op, IrNode *x, Type t, unsigned axes, bool keep) {
  if (!axes) return x;
  int shift = t.batched && L->batch ? 1 : 0;
  IrNode *r = ir_reduce(L->g, op, x, axes << shift);
  if (keep) return r;
  Type out = {.batched = t.batched};
  for (int i = 0; i < t.shape.ndim; i++)
    if (!(axes >> i & 1)) out.shape.dim[out.shape.ndim++] = t.shape.dim[i];
  return lower_reshape(L, r, lower_ir_shape(L, out));
}

IrNode *lower_mean(LowerCtx *L, IrNode *x, Type t, unsigned axes) {
  int64_t count = 1;
  for (int i = 0; i < t.shape.ndim; i++)
    if (axes >> i & 1) count *= t.shape.dim[i];
  return lower_mul(L, lower_reduce(L, OP_SUM, x, t, axes, true), lower_num(L, 1.0 / (double)count));
}

static IrNode *lower_expr(LowerCtx *L, const Expr *e) {
  static const IrOp binops[128] = {['+'] = OP_ADD, ['-'] = OP_SUB, ['*'] = OP_MUL, ['/'] = OP_DIV, ['^'] = OP_POW};
  IrNode *r;
  switch (e->kind) {
  case EX_NUM:
    L->g->cur_loc = e->loc;
    return ir_const(L->g, e->num);
  case EX_INPUT: return L->inputs[e->ref];
  case EX_TARGET: return L->targets[e->ref];
  case EX_PARAM: return L->params[e->ref];
  case EX_LET:
    if (!L->bindings[e->ref]) die("binding %d used before it was lowered", e->ref);
    return L->bindings[e->ref];
  case EX_NEG:
    r = lower_expr(L, e->lhs);
    L->g->cur_loc = e->loc;
    return ir_unary(L->g, OP_NEG, r);
  case EX_BINARY: {
    IrNode *a = lower_expr(L, e->lhs), *b = lower_expr(L, e->rhs);
    L->g->cur_loc = e->loc;
    if (e->op == '@') return lower_matmul(L, a, e->lhs->type, b, e->rhs->type);
    return lower_elementwise(L, binops[(unsigned char)e->op], a, e->lhs->type, b, e->rhs->type);
  }
  case EX_CALL: {
    IrNode *x[BUILTIN_MAX_PARAMS] = {0};
    for (int i = 0; i < BUILTIN_MAX_PARAMS && e->fn->params[i].name; i++)
      if (e->fn->params[i].type == AT_TENSOR && e->args[i].present) x[i] = lower_expr(L, e->args[i].x);
    L->g->cur_loc = e->loc;
    return e->fn->lower(L, e, x);
  }
  }
  die("bad expression kind %d", e->kind);
}

/* The per-sample loss averaged over the batch, as a scalar. */
static IrNode *batch_mean(LowerCtx *L, IrNode *loss, Type t) {
  IrGraph *g = L->g;
  if (!t.batched || !L->batch) return lower_reshape(L, loss, shape_scalar());
  IrNode *v = lower_reshape(L, loss, shape_1(L->batch));
  IrNode *s = lower_reshape(L, ir_reduce(g, OP_SUM, v, 1), shape_scalar());
  return lower_mul(L, s, lower_num(L, 1.0 / L->batch));
}

IrGraph *lower_model(const Model *m, Arena *a, int batch, bool training, const char *what, LowerCtx *L) {
  return lower_model_shard(m, a, batch, 0, training, what, L);
}

IrGraph *lower_model_shard(const Model *m, Arena *a, int batch, int first, bool training, const char *what,
                           LowerCtx *L) {
  if (!lower_has_batch(m)) batch = 0;
  else if (batch <= 0) die("lowering %s with batch %d", m->name, batch);
  IrGraph *g = ir_graph_new(a, arena_printf(a, "%s.%s", m->name, what), batch);
  *L = (LowerCtx){.m = m, .g = g, .training = training, .batch = batch, .first = batch ? first : 0,
                  .params = NEW_ARRAY(a, IrNode *, m->nparams + 1),
                  .inputs = NEW_ARRAY(a, IrNode *, m->ninputs + 1),
                  .targets = NEW_ARRAY(a, IrNode *, m->ntargets + 1),
                  .bindings = NEW_ARRAY(a, IrNode *, m->nbindings + 1)};
  for (int i = 0; i < m->ninputs; i++) {
    const ModelValue *v = &m->inputs[i];
    g->cur_loc = v->loc;
    g->cur_label = v->name;
    L->inputs[i] = ir_input(g, v->name, lower_ir_shape(L, (Type){.shape = v->shape, .batched = true}));
  }
  for (int i = 0; i < m->ntargets; i++) {
    const ModelValue *v = &m->targets[i];
    g->cur_loc = v->loc;
    g->cur_label = v->name;
    L->targets[i] = ir_input(g, v->name, lower_ir_shape(L, (Type){.shape = v->shape, .batched = true}));
  }
  for (int i = 0; i < m->nparams; i++) {
    const ModelParam *p = &m->params[i];
    g->cur_loc = p->loc;
    g->cur_label = p->name;
    L->params[i] = ir_param(g, p->name, p->shape, p->init);
  }
  for (int i = 0; i < m->nbindings; i++) {
    g->cur_loc = m->bindings[i].loc;
    g->cur_label = m->bindings[i].name;
    L->bindings[i] = lower_expr(L, m->bindings[i].value);
  }
  g->cur_loc = m->loss_loc;
  g->cur_label = "loss";
  ir_output(g, "loss", batch_mean(L, lower_expr(L, m->loss), m->loss->type));
  for (int i = 0; i < m->noutputs; i++) {
    g->cur_loc = m->outputs[i].value->loc;
    g->cur_label = m->outputs[i].name;
    ir_output(g, lower_output_name(m, i, a), lower_expr(L, m->outputs[i].value));
  }
  g->cur_label = NULL;
  g->cur_loc = (Loc){0};
  return g;
}

const char *lower_output_name(const Model *m, int i, Arena *a) {
  return i == 0 ? "output" : arena_printf(a, "output %s", m->outputs[i].name);
}

IrGraph *lower_forward(const Model *m, Arena *a, int batch, bool training) {
  LowerCtx L;
  return lower_model(m, a, batch, training, training ? "forward_train" : "forward", &L);
}

IrGraph *lower_grad(const Model *m, Arena *a, int batch) {
  LowerCtx L;
  IrGraph *g = lower_model(m, a, batch, true, "grad", &L);
  IrNode **grads = grad_build(g, ir_find_output(g, "loss"), m->nparams, L.params);
  for (int i = 0; i < m->nparams; i++) ir_output(g, arena_printf(a, "grad %s", m->params[i].name), grads[i]);
  return g;
}
