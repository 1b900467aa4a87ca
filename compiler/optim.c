/* optim: the train step as IR: forward (training mode), gradients of the loss
 * with respect to every parameter, clipping and the optimizer's update rule,
 * in one graph so the code generator can fuse the update into the backward
 * pass -- or, split at the gradients, as two graphs (lower.h).
 *
 * The optimizer's hyperparameters are scalar STATE leaves named
 * "<optimizer>.<name>" ("adam.lr", "adam.beta2", "momentum.gamma"), started at
 * the values the file gives, so the runtime can change them (a --lr override,
 * a schedule) without recompiling, and checkpoints keep them.  Optimizer
 * state lives in STATE leaves "<optimizer>.<slot>/<param>" ("adam.m/h1.w",
 * "momentum.v/h1.b") plus the scalar step counter "adam.t"; all start at zero.
 * Formulas (g after clipping, plus wd*w for a coupled weight decay):
 *   sgd       w' = w - lr*g
 *   momentum  v' = gamma*v - lr*g;  w' = w + v'  (nesterov: w' = w + gamma*v' - lr*g)
 *   adagrad   G' = G + g^2;  w' = w - lr*g / sqrt(G' + eps)
 *   rmsprop   v' = beta*v + (1-beta)*g^2;  w' = w - lr*g / (sqrt(v') + eps)
 *   adam      t' = t+1;  m' = b1*m + (1-b1)*g;  v' = b2*v + (1-b2)*g^2
 *             (moving averages as m + (g - m)*(1-b1), see lerp);
 *             w' = w - lr * (m'/(1-b1^t')) / (sqrt(v'/(1-b2^t')) + eps)
 *             (computed with per-step scalars, update_adam)
 *   adamw     adam with decoupled weight decay: w' = w*(1 - lr*wd) - lr * ...
 * The bias corrections 1 - b^t are one pow1m op each (computed in double), and
 * 1 - b is computed from the same float b the correction uses, so one step
 * of Adam moves a weight by lr * g / (|g| + eps) to float rounding.
 * Clipping: clip_value clamps each element to [-c, c] first; clip_norm then
 * scales every gradient by c / max(||g||, c), ||g|| the global L2 norm.
 */
#include <string.h>

#include "builtins.h"
#include "grad.h"
#include "lower.h"

static const char *const optim_names[] = {[OPT_SGD] = "sgd",         [OPT_MOMENTUM] = "momentum",
                                          [OPT_ADAGRAD] = "adagrad", [OPT_RMSPROP] = "rmsprop",
                                          [OPT_ADAM] = "adam",       [OPT_ADAMW] = "adamw"};

const char *optim_name(OptimKind k) { return optim_names[k]; }

/* Adam and AdamW share moments and bias corrections. */
static bool adam_like(OptimKind k) { return k == OPT_ADAM || k == OPT_ADAMW; }

static IrNode *state(LowerCtx *L, const char *slot, const IrNode *w) {
  const char *name = arena_printf(L->g->arena, "%s.%s/%s", optim_names[L->m->optim.kind], slot, w->name);
  return ir_state(L->g, name, w->shape, (IrInit){.kind = INIT_ZEROS});
}

/* The optimizer's hyperparameters, as leaves (NULL where the optimizer has none). */
typedef struct {
  IrNode *lr, *gamma, *beta, *beta1, *beta2, *eps, *wd;
} Hyper;

static const char *const hyper_names[] = {"lr", "gamma", "beta", "beta1", "beta2", "eps", "weight_decay"};

bool optim_is_hyper(const Model *m, const char *name) {
  const char *opt = optim_names[m->optim.kind];
  size_t n = strlen(opt);
  if (strncmp(name, opt, n) != 0 || name[n] != '.') return false;
  for (size_t i = 0; i < COUNT_OF(hyper_names); i++)
    if (strcmp(name + n + 1, hyper_names[i]) == 0) return true;
  return false;
}

static IrNode *hyper(LowerCtx *L, const char *name, double value) {
  const char *full = arena_printf(L->g->arena, "%s.%s", optim_names[L->m->optim.kind], name);
  return ir_state(L->g, full, shape_scalar(), (IrInit){.kind = INIT_CONST, .a = value});
}

/* The leaves in a fixed order (the store keeps them in creation order).  A
 * weight decay leaf exists when the file asks for one (always for adamw). */
static Hyper hyper_leaves(LowerCtx *L) {
  const OptimConfig *o = &L->m->optim;
  IrGraph *g = L->g;
  const char *label = g->cur_label;
  g->cur_label = optim_names[o->kind];
  Hyper h = {.lr = hyper(L, "lr", o->lr)};
  if (o->kind == OPT_MOMENTUM) h.gamma = hyper(L, "gamma", o->gamma);
  if (o->kind == OPT_RMSPROP) h.beta = hyper(L, "beta", o->beta);
  if (adam_like(o->kind)) {
    h.beta1 = hyper(L, "beta1", o->beta1);
    h.beta2 = hyper(L, "beta2", o->beta2);
  }
  if (o->kind != OPT_SGD && o->kind != OPT_MOMENTUM) h.eps = hyper(L, "eps", o->eps);
  if (o->weight_decay > 0 || o->kind == OPT_ADAMW) h.wd = hyper(L, "weight_decay", o->weight_decay);
  g->cur_label = label;
  return h;
}

/* Clips grads[0..n) (NULL: a parameter the graph does not update); sumsq,
 * when not NULL, is the squared global norm the graph is given instead of
 * computing it from grads. */
static void clip(LowerCtx *L, IrNode **grads, int n, IrNode *sumsq) {
  const OptimConfig *o = &L->m->optim;
  IrGraph *g = L->g;
  g->cur_label = "clip";
  if (o->clip_value > 0)
    for (int i = 0; i < n; i++)
      if (grads[i]) grads[i] = ir_binary(g, OP_MAX, ir_binary(g, OP_MIN, grads[i], lower_num(L, o->clip_value)),
                           lower_num(L, -o->clip_value));
  if (o->clip_norm > 0 && n > 0) {
    IrNode *sq = sumsq ? sumsq : lower_num(L, 0);
    for (int i = 0; i < n && !sumsq; i++) {
      IrNode *s = lower_mul(L, grads[i], grads[i]);
      if (s->shape.ndim) s = lower_reshape(L, ir_reduce(g, OP_SUM, s, (1u << s->shape.ndim) - 1), shape_scalar());
      sq = lower_add(L, sq, s);
    }
    IrNode *c = lower_num(L, o->clip_norm);
    IrNode *scale = lower_div(L, c, ir_binary(g, OP_MAX, ir_unary(g, OP_SQRT, sq), c));
    for (int i = 0; i < n; i++)
      if (grads[i]) grads[i] = lower_mul(L, grads[i], scale);
  }
}

/* a + (b - a) * c: a moving average b*a + (1-b)*x as PyTorch's lerp writes
 * it, with one product and one rounding fewer. */
static IrNode *lerp(LowerCtx *L, IrNode *a, IrNode *b, IrNode *c) { return lower_add(L, a, lower_mul(L, lower_sub(L, b, a), c)); }

/* Adam's and AdamW's step for w: moments, then
 *   w' = w - a * m' / (sqrt(v') + eps * sqrt(c2)),  a = lr * sqrt(c2) / c1,
 * with the per-step scalars c1 = 1-b1^t', c2 = 1-b2^t' (t1 is t+1): equal in
 * exact arithmetic to lr * (m'/c1) / (sqrt(v'/c2) + eps), with one division
 * and one square root per element instead of three and one (the update is
 * bound by memory, not by the divider).  AdamW first scales w by 1 - lr*wd. */
static void update_adam(LowerCtx *L, const Hyper *h, IrNode *w, IrNode *gr, IrNode *t1) {
  IrGraph *g = L->g;
  IrNode *one = lower_num(L, 1);
  IrNode *m = state(L, "m", w), *v = state(L, "v", w);
  IrNode *m1 = lerp(L, m, gr, lower_sub(L, one, h->beta1));
  IrNode *v1 = lerp(L, v, lower_mul(L, gr, gr), lower_sub(L, one, h->beta2));
  ir_update(g, m, m1);
  ir_update(g, v, v1);
  IrNode *c1 = ir_binary(g, OP_POW1M, h->beta1, t1), *c2 = ir_binary(g, OP_POW1M, h->beta2, t1);
  IrNode *root_c2 = ir_unary(g, OP_SQRT, c2);
  IrNode *a = lower_div(L, lower_mul(L, h->lr, root_c2), c1);
  IrNode *den = lower_add(L, ir_unary(g, OP_SQRT, v1), lower_mul(L, h->eps, root_c2));
  IrNode *kept = L->m->optim.kind == OPT_ADAMW ? lower_mul(L, w, lower_sub(L, one, lower_mul(L, h->lr, h->wd))) : w;
  ir_update(g, w, lower_sub(L, kept, lower_mul(L, a, lower_div(L, m1, den))));
}

/* Emits the updates of parameter w with gradient gr; t1 is adam's t+1. */
static void update(LowerCtx *L, const Hyper *h, IrNode *w, IrNode *gr, IrNode *t1) {
  const OptimConfig *o = &L->m->optim;
  IrGraph *g = L->g;
  if (h->wd && o->kind != OPT_ADAMW) gr = lower_add(L, gr, lower_mul(L, h->wd, w));   /* coupled (L2) decay */
  IrNode *step = lower_mul(L, h->lr, gr);   /* lr*g */
  switch (o->kind) {
  case OPT_SGD:
    ir_update(g, w, lower_sub(L, w, step));
    return;
  case OPT_MOMENTUM: {
    IrNode *v = state(L, "v", w);
    IrNode *v1 = lower_sub(L, lower_mul(L, h->gamma, v), step);
    ir_update(g, v, v1);
    IrNode *delta = o->nesterov ? lower_sub(L, lower_mul(L, h->gamma, v1), step) : v1;
    ir_update(g, w, lower_add(L, w, delta));
    return;
  }
  case OPT_ADAGRAD: {
    IrNode *G = state(L, "G", w);
    IrNode *G1 = lower_add(L, G, lower_mul(L, gr, gr));
    ir_update(g, G, G1);
    ir_update(g, w, lower_sub(L, w, lower_div(L, step, ir_unary(g, OP_SQRT, lower_add(L, G1, h->eps)))));
    return;
  }
  case OPT_RMSPROP: {
    IrNode *v = state(L, "v", w);
    IrNode *decay = lower_sub(L, lower_num(L, 1), h->beta);
    IrNode *v1 = lerp(L, v, lower_mul(L, gr, gr), decay);
    ir_update(g, v, v1);
    ir_update(g, w, lower_sub(L, w, lower_div(L, step, lower_add(L, ir_unary(g, OP_SQRT, v1), h->eps))));
    return;
  }
  case OPT_ADAM:
  case OPT_ADAMW:
    update_adam(L, h, w, gr, t1);
    return;
  }
  die("bad optimizer kind %d", o->kind);
}

/* Clipping and the optimizer's updates of params[0..n) from grads (both in
 * L->g; NULL for a parameter the graph does not update; sumsq as clip takes
 * it); labels every node with the optimizer and the parameter. */
static void lower_updates(LowerCtx *L, IrNode *const *params, IrNode **grads, IrNode *sumsq) {
  const Model *m = L->m;
  IrGraph *g = L->g;
  g->cur_loc = m->optim.loc;
  Hyper h = hyper_leaves(L);
  clip(L, grads, m->nparams, sumsq);
  IrNode *t1 = NULL;
  if (adam_like(m->optim.kind)) {
    g->cur_label = "adam.t";
    IrNode *t = ir_state(g, arena_printf(g->arena, "%s.t", optim_names[m->optim.kind]), shape_scalar(),
                         (IrInit){.kind = INIT_ZEROS});
    t1 = lower_add(L, t, lower_num(L, 1));
    ir_update(g, t, t1);
  }
  for (int i = 0; i < m->nparams; i++) {
    if (!params[i]) continue;
    g->cur_label = arena_printf(g->arena, "%s %s", optim_names[m->optim.kind], m->params[i].name);
    update(L, &h, params[i], grads[i], t1);
  }
  g->cur_label = NULL;
  g->cur_loc = (Loc){0};
}

/* The dropout counter moves once per step. */
static void count_step(LowerCtx *L) {
  if (!L->step) return;
  L->g->cur_label = "step";
  ir_update(L->g, L->step, lower_add(L, L->step, lower_num(L, 1)));
  L->g->cur_label = NULL;
}

IrGraph *lower_train_step(const Model *m, Arena *a, int batch) {
  LowerCtx L;
  IrGraph *g = lower_model(m, a, batch, true, "train", &L);
  IrNode **grads = grad_build(g, ir_find_output(g, "loss"), m->nparams, L.params);
  lower_updates(&L, L.params, grads, NULL);
  count_step(&L);
  return g;
}

const char *lower_grad_leaf(Arena *a, const char *param) { return arena_printf(a, LOWER_GRAD_PREFIX "%s", param); }

/* The loss a shard's gradients are taken of: its mean loss weighted by its
 * share of the larger batch (the shard's mean is still the "loss" output). */
static IrNode *shard_loss(LowerCtx *L, int batch, int total) {
  IrNode *loss = ir_find_output(L->g, "loss");
  if (total == batch || batch == 0) return loss;
  L->g->cur_label = "loss";
  IrNode *share = lower_mul(L, loss, lower_num(L, (double)batch / total));
  L->g->cur_label = NULL;
  return share;
}

IrGraph *lower_grad_step(const Model *m, Arena *a, int batch, int first, int total) {
  LowerCtx L;
  IrGraph *g = lower_model_shard(m, a, batch, first, true, "grad_step", &L);
  IrNode **grads = grad_build(g, shard_loss(&L, batch, total), m->nparams, L.params);
  for (int i = 0; i < m->nparams; i++) {
    g->cur_label = lower_grad_leaf(a, m->params[i].name);
    IrNode *leaf = ir_state(g, lower_grad_leaf(a, m->params[i].name), L.params[i]->shape, (IrInit){.kind = INIT_ZEROS});
    ir_update(g, leaf, grads[i]);
  }
  g->cur_label = NULL;
  count_step(&L);
  return g;
}

const char *lower_piece_name(Arena *a, const char *name, int64_t first) {
  return arena_printf(a, "%s" LOWER_PIECE_MARK "%lld", name, (long long)first);
}

/* The update of every parameter (piece NULL) or of the pieces of them, which
 * read the squared global norm from an input when clipping by the norm. */
static IrGraph *update_graph(const Model *m, Arena *a, const char *what, const LowerPiece *piece) {
  IrGraph *g = ir_graph_new(a, arena_printf(a, "%s.%s", m->name, what), 0);
  LowerCtx L = {.m = m, .g = g, .params = NEW_ARRAY(a, IrNode *, m->nparams + 1)};
  IrNode **grads = NEW_ARRAY(a, IrNode *, m->nparams + 1);
  for (int i = 0; i < m->nparams; i++) {
    const ModelParam *p = &m->params[i];
    int64_t numel = shape_numel(p->shape);
    LowerPiece whole = {0, numel}, pc = piece ? piece[i] : whole;
    L.params[i] = grads[i] = NULL;
    if (pc.count == 0) continue;
    bool all = pc.first == 0 && pc.count == numel;
    const char *name = all ? p->name : lower_piece_name(a, p->name, pc.first);
    Shape shape = all ? p->shape : shape_1((int)pc.count);
    g->cur_loc = p->loc;
    g->cur_label = p->name;
    L.params[i] = ir_param(g, name, shape, p->init);
    grads[i] = ir_input(g, lower_grad_leaf(a, name), shape);
  }
  IrNode *sumsq = piece && m->optim.clip_norm > 0 ? ir_input(g, LOWER_CLIP_SUMSQ, shape_scalar()) : NULL;
  lower_updates(&L, L.params, grads, sumsq);
  return g;
}

IrGraph *lower_update_step(const Model *m, Arena *a) { return update_graph(m, a, "update", NULL); }

IrGraph *lower_update_slice(const Model *m, Arena *a, const LowerPiece *piece) {
  return update_graph(m, a, "update_slice", piece);
}

int optim_state_param(const Model *m, const char *name) {
  const char *opt = optim_names[m->optim.kind], *slash = strchr(name, '/');
  size_t n = strlen(opt);
  if (!slash || strncmp(name, opt, n) != 0 || name[n] != '.') return -1;
  for (int i = 0; i < m->nparams; i++)
    if (strcmp(slash + 1, m->params[i].name) == 0) return i;
  return -1;
}

