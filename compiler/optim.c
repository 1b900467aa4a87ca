/* optim: the train-step graph: forward (training mode), gradients of the
 * loss with respect to every parameter, clipping, and the optimizer's update
 * rule, all as IR in one graph so the code generator can fuse the update
 * into the backward pass.
 *
 * Optimizer state lives in STATE leaves named "<optimizer>.<slot>/<param>"
 * ("adam.m/h1.w", "momentum.v/h1.b", "adagrad.G/a") plus the scalar step
 * counter "adam.t"; all start at zero.  Formulas (g after clipping):
 *   sgd       w' = w - lr*g
 *   momentum  v' = gamma*v - lr*g;  w' = w + v'  (nesterov: w' = w + gamma*v' - lr*g)
 *   adagrad   G' = G + g^2;  w' = w - lr*g / sqrt(G' + eps)
 *   rmsprop   v' = beta*v + (1-beta)*g^2;  w' = w - lr*g / (sqrt(v') + eps)
 *   adam      t' = t+1;  m' = b1*m + (1-b1)*g;  v' = b2*v + (1-b2)*g^2;
 *             w' = w - lr * (m'/(1-b1^t')) / (sqrt(v'/(1-b2^t')) + eps),
 *             computed as w - a * m' / (sqrt(v') + eps * sqrt(c2)) with the
 *             per-step scalars c2 = 1-b2^t', a = lr * sqrt(c2) / (1-b1^t')
 *             (equal in exact arithmetic; one division and one square root
 *             per element instead of three and one: the update is bound by
 *             memory, not by the divider)
 * Clipping: clip_value clamps each element to [-c, c] first; clip_norm then
 * scales every gradient by c / max(||g||, c), ||g|| the global L2 norm.
 */
#include <string.h>

#include "builtins.h"
#include "grad.h"
#include "lower.h"

static const char *const optim_names[] = {[OPT_SGD] = "sgd", [OPT_MOMENTUM] = "momentum", [OPT_ADAGRAD] = "adagrad",
                                          [OPT_RMSPROP] = "rmsprop", [OPT_ADAM] = "adam"};

static IrNode *state(LowerCtx *L, const char *slot, const IrNode *w) {
  const char *name = arena_printf(L->g->arena, "%s.%s/%s", optim_names[L->m->optim.kind], slot, w->name);
  return ir_state(L->g, name, w->shape, (IrInit){.kind = INIT_ZEROS});
}

static void clip(LowerCtx *L, IrNode **grads, int n) {
  const OptimConfig *o = &L->m->optim;
  IrGraph *g = L->g;
  g->cur_label = "clip";
  if (o->clip_value > 0)
    for (int i = 0; i < n; i++)
      grads[i] = ir_binary(g, OP_MAX, ir_binary(g, OP_MIN, grads[i], lower_num(L, o->clip_value)),
                           lower_num(L, -o->clip_value));
  if (o->clip_norm > 0 && n > 0) {
    IrNode *sq = lower_num(L, 0);
    for (int i = 0; i < n; i++) {
      IrNode *s = lower_mul(L, grads[i], grads[i]);
      if (s->shape.ndim) s = lower_reshape(L, ir_reduce(g, OP_SUM, s, (1u << s->shape.ndim) - 1), shape_scalar());
      sq = lower_add(L, sq, s);
    }
    IrNode *c = lower_num(L, o->clip_norm);
    IrNode *scale = lower_div(L, c, ir_binary(g, OP_MAX, ir_unary(g, OP_SQRT, sq), c));
    for (int i = 0; i < n; i++) grads[i] = lower_mul(L, grads[i], scale);
  }
}

/* Emits the updates of parameter w with gradient gr; t1 is adam's t+1. */
static void update(LowerCtx *L, IrNode *w, IrNode *gr, IrNode *t1) {
  const OptimConfig *o = &L->m->optim;
  IrGraph *g = L->g;
  IrNode *lr = lower_num(L, o->lr), *eps = lower_num(L, o->eps);
  IrNode *step = lower_mul(L, lr, gr);   /* lr*g */
  IrNode *gg = lower_mul(L, gr, gr);
  switch (o->kind) {
  case OPT_SGD:
    ir_update(g, w, lower_sub(L, w, step));
    return;
  case OPT_MOMENTUM: {
    IrNode *v = state(L, "v", w);
    IrNode *v1 = lower_sub(L, lower_mul(L, lower_num(L, o->gamma), v), step);
    ir_update(g, v, v1);
    IrNode *delta = o->nesterov ? lower_sub(L, lower_mul(L, lower_num(L, o->gamma), v1), step) : v1;
    ir_update(g, w, lower_add(L, w, delta));
    return;
  }
  case OPT_ADAGRAD: {
    IrNode *G = state(L, "G", w);
    IrNode *G1 = lower_add(L, G, gg);
    ir_update(g, G, G1);
    ir_update(g, w, lower_sub(L, w, lower_div(L, step, ir_unary(g, OP_SQRT, lower_add(L, G1, eps)))));
    return;
  }
  case OPT_RMSPROP: {
    IrNode *v = state(L, "v", w);
    IrNode *v1 = lower_add(L, lower_mul(L, lower_num(L, o->beta), v), lower_mul(L, lower_num(L, 1 - o->beta), gg));
    ir_update(g, v, v1);
    ir_update(g, w, lower_sub(L, w, lower_div(L, step, lower_add(L, ir_unary(g, OP_SQRT, v1), eps))));
    return;
  }
  case OPT_ADAM: {
    IrNode *m = state(L, "m", w), *v = state(L, "v", w);
    IrNode *m1 = lower_add(L, lower_mul(L, lower_num(L, o->beta1), m), lower_mul(L, lower_num(L, 1 - o->beta1), gr));
    IrNode *v1 = lower_add(L, lower_mul(L, lower_num(L, o->beta2), v), lower_mul(L, lower_num(L, 1 - o->beta2), gg));
    ir_update(g, m, m1);
    ir_update(g, v, v1);
    IrNode *c1 = lower_sub(L, lower_num(L, 1), ir_binary(g, OP_POW, lower_num(L, o->beta1), t1));
    IrNode *c2 = lower_sub(L, lower_num(L, 1), ir_binary(g, OP_POW, lower_num(L, o->beta2), t1));
    IrNode *root_c2 = ir_unary(g, OP_SQRT, c2);
    IrNode *a = lower_div(L, lower_mul(L, lr, root_c2), c1);
    IrNode *den = lower_add(L, ir_unary(g, OP_SQRT, v1), lower_mul(L, eps, root_c2));
    ir_update(g, w, lower_sub(L, w, lower_mul(L, a, lower_div(L, m1, den))));
    return;
  }
  }
  die("bad optimizer kind %d", o->kind);
}

IrGraph *lower_train_step(const Model *m, Arena *a, int batch) {
  LowerCtx L;
  IrGraph *g = lower_model(m, a, batch, true, "train", &L);
  IrNode **grads = grad_build(g, ir_find_output(g, "loss"), m->nparams, L.params);
  g->cur_loc = m->optim.loc;
  clip(&L, grads, m->nparams);
  IrNode *t1 = NULL;
  if (m->optim.kind == OPT_ADAM) {
    g->cur_label = "adam.t";
    IrNode *t = ir_state(g, "adam.t", shape_scalar(), (IrInit){.kind = INIT_ZEROS});
    t1 = lower_add(&L, t, lower_num(&L, 1));
    ir_update(g, t, t1);
  }
  for (int i = 0; i < m->nparams; i++) {
    g->cur_label = arena_printf(a, "%s %s", optim_names[m->optim.kind], m->params[i].name);
    update(&L, L.params[i], grads[i], t1);
  }
  if (L.step) {
    g->cur_label = "step";
    ir_update(g, L.step, lower_add(&L, L.step, lower_num(&L, 1)));
  }
  g->cur_label = NULL;
  g->cur_loc = (Loc){0};
  return g;
}
