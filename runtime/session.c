/* session: compiled graphs sharing one store of parameters and state. */
#include "session.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init.h"
#include "lower.h"

static float *alloc_floats(int64_t numel) {
  size_t bytes = ((size_t)(numel > 0 ? numel : 1) * sizeof(float) + 63) / 64 * 64;
  float *p = aligned_alloc(64, bytes);
  if (!p) die("out of memory (%zu bytes)", bytes);
  memset(p, 0, bytes);
  return p;
}

bool session_init(Session *s, const Model *m, char *err, size_t errlen) {
  *s = (Session){.model = m, .arena = arena_new()};
  if (m->ninputs > 1 || m->ntargets > 1) {
    snprintf(err, errlen, "%s: the runtime feeds one input and one target; this model has %d inputs and %d targets",
             m->name, m->ninputs, m->ntargets);
    return false;
  }
  if (m->ninputs == 1) s->nfeat = (int)shape_numel(m->inputs[0].shape);
  if (m->ntargets == 1) {
    s->nclasses = m->targets[0].nclasses;
    s->ntarget = s->nclasses > 0 ? s->nclasses : (int)shape_numel(m->targets[0].shape);
  }
  return true;
}

void session_free(Session *s) {
  for (int i = 0; i < s->nslots; i++) free(s->slots[i].data);
  for (int i = 0; i < s->ngraphs; i++) {
    jit_free(s->graphs[i]->jit);
    free(s->graphs[i]->x);
    free(s->graphs[i]->y);
    free(s->graphs[i]);
  }
  free(s->slots);
  free(s->graphs);
  arena_free(s->arena);
  *s = (Session){0};
}

Slot *session_slot(Session *s, const char *name) {
  for (int i = 0; i < s->nslots; i++)
    if (strcmp(s->slots[i].name, name) == 0) return &s->slots[i];
  return NULL;
}

static Slot *slot_for(Session *s, const IrNode *leaf) {
  Slot *slot = session_slot(s, leaf->name);
  if (slot) {
    if (!shape_eq(slot->shape, leaf->shape)) die("leaf %s has two shapes", leaf->name);
    return slot;
  }
  s->slots = xrealloc(s->slots, sizeof(Slot) * (size_t)(s->nslots + 1));
  slot = &s->slots[s->nslots++];
  *slot = (Slot){.name = leaf->name, .op = leaf->op, .shape = leaf->shape, .init = leaf->init,
                 .data = alloc_floats(shape_numel(leaf->shape))};
  return slot;
}

Compiled *session_graph(Session *s, GraphKind kind, int batch, char *err, size_t errlen) {
  for (int i = 0; i < s->ngraphs; i++)
    if (s->graphs[i]->kind == kind && s->graphs[i]->batch == batch) return s->graphs[i];
  const Model *m = s->model;
  IrGraph *g = kind == GRAPH_TRAIN ? lower_train_step(m, s->arena, batch)
                                   : lower_forward(m, s->arena, batch, false);
  g = ir_simplify(g);
  JitGraph *j = jit_compile(g, &(JitOptions){.opt_level = 3}, err, errlen);
  if (!j) return NULL;
  s->graphs = xrealloc(s->graphs, sizeof(Compiled *) * (size_t)(s->ngraphs + 1));
  Compiled *c = s->graphs[s->ngraphs++] = xmalloc(sizeof(Compiled));
  *c = (Compiled){.kind = kind, .batch = batch, .ir = g, .jit = j};
  for (int i = 0; i < jit_nleaves(j); i++) {
    const IrNode *leaf = jit_leaf(j, i);
    float *buf;
    if (leaf->op == OP_INPUT) {
      bool is_x = m->ninputs == 1 && strcmp(leaf->name, m->inputs[0].name) == 0;
      float **slot = is_x ? &c->x : &c->y;
      if (!*slot) *slot = alloc_floats(shape_numel(leaf->shape));
      buf = *slot;
    } else {
      Slot *slot = slot_for(s, leaf);
      slot->model_state |= kind == GRAPH_EVAL;
      buf = slot->data;
    }
    jit_bind(j, i, buf);
  }
  return c;
}

void session_init_values(Session *s, Rng *rng) {
  for (int i = 0; i < s->nslots; i++) init_fill(&s->slots[i].init, s->slots[i].shape, s->slots[i].data, rng);
}

void session_gather(Compiled *c, const Dataset *d, const int *idx, int n) {
  if (d && n > 0) data_gather(d, idx, n, c->x, c->y);
}

void session_run(Compiled *c, const Dataset *d, const int *idx, int n) {
  session_gather(c, d, idx, n);
  jit_run(c->jit);
}

static int argmax(const float *v, int k) {
  int best = 0;
  for (int i = 1; i < k; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

void session_accumulate(const Session *s, const Compiled *c, const Dataset *d, const int *idx, int n,
                        Metrics *m) {
  const float *loss = jit_output(c->jit, "loss");
  m->loss += (double)loss[0] * (n > 0 ? n : 1);
  m->n += n > 0 ? n : 1;
  const float *out = jit_output(c->jit, "output");
  if (s->nclasses > 0 && out && d && d->labels)
    for (int r = 0; r < n; r++) m->correct += argmax(out + (int64_t)r * s->nclasses, s->nclasses) == d->labels[idx[r]];
}

bool session_evaluate(Session *s, const Dataset *d, int batch, Metrics *out, char *err, size_t errlen) {
  *out = (Metrics){0};
  int *idx = xmalloc(sizeof(int) * (size_t)(batch > 0 ? batch : 1));
  bool ok = true;
  for (int start = 0; start < d->n; start += batch) {
    int n = d->n - start < batch ? d->n - start : batch;
    Compiled *c = session_graph(s, GRAPH_EVAL, n, err, errlen);
    if (!c) {
      ok = false;
      break;
    }
    for (int i = 0; i < n; i++) idx[i] = start + i;
    session_run(c, d, idx, n);
    session_accumulate(s, c, d, idx, n, out);
  }
  free(idx);
  if (out->n) out->loss /= (double)out->n;
  out->accuracy = s->nclasses > 0 && out->n ? (double)out->correct / (double)out->n : NAN;
  return ok;
}

/* Whether every value is a finite float (doubles beyond FLT_MAX overflowed in
 * the compiled float code even if the double evaluator kept them). */
static bool all_finite(const double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(v[i]) <= FLT_MAX)) return false;
  return true;
}

void session_explain_nonfinite(Session *s, const Compiled *c, char *buf, size_t len) {
  const IrGraph *g = c->ir;
  Arena *scratch = arena_new();
  double **vals = NEW_ARRAY(scratch, double *, g->nodes.len);
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.items[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE) continue;
    const float *src = n->op == OP_INPUT ? (strcmp(n->name, s->model->inputs[0].name) == 0 ? c->x : c->y)
                                         : session_slot(s, n->name)->data;
    int64_t numel = shape_numel(n->shape);
    vals[i] = NEW_ARRAY(scratch, double, numel);
    for (int64_t k = 0; k < numel; k++) vals[i][k] = src[k];
  }
  ir_eval(g, vals, scratch);
  bool *live = ir_live(g);
  snprintf(buf, len, "no single value could be blamed (the double-precision evaluator stayed finite)");
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.items[i];
    if (!live[i] || !vals[i] || all_finite(vals[i], shape_numel(n->shape))) continue;
    const char *file = n->loc.file ? strrchr(n->loc.file, '/') : NULL;
    file = file ? file + 1 : n->loc.file;
    if (n->op == OP_PARAM || n->op == OP_STATE || n->op == OP_INPUT)
      snprintf(buf, len, "%s %s already holds non-finite values", op_info[n->op].name, n->name);
    else if (file)
      snprintf(buf, len, "first non-finite value: %s of '%s' at %s:%d", op_info[n->op].name,
               n->label ? n->label : "?", n->loc.file, n->loc.line);
    else
      snprintf(buf, len, "first non-finite value: %s of '%s'", op_info[n->op].name, n->label ? n->label : "?");
    break;
  }
  free(live);
  arena_free(scratch);
}

bool session_load(Session *s, const Checkpoint *c, const char *path, bool everything) {
  for (int i = 0; i < s->nslots; i++) {
    Slot *sl = &s->slots[i];
    if (!everything && sl->op == OP_STATE && !sl->model_state) continue;
    const CkptTensor *t = ckpt_find(c, sl->name);
    if (!t) {
      fprintf(stderr, "nnc: %s: has no tensor '%s' (is it a checkpoint of model %s?)\n", path, sl->name,
              s->model->name);
      return false;
    }
    if ((t->kind == CKPT_PARAM) != (sl->op == OP_PARAM)) {
      fprintf(stderr, "nnc: %s: tensor '%s' is a %s, the model's is a %s\n", path, sl->name,
              t->kind == CKPT_PARAM ? "param" : "state", sl->op == OP_PARAM ? "param" : "state");
      return false;
    }
    if (!shape_eq(t->shape, sl->shape)) {
      char a[96], b[96];
      fprintf(stderr, "nnc: %s: tensor '%s' has shape %s, the model expects %s\n", path, sl->name,
              shape_str(t->shape, a), shape_str(sl->shape, b));
      return false;
    }
    memcpy(sl->data, t->data, sizeof(float) * (size_t)shape_numel(sl->shape));
  }
  return true;
}

/* Losses as people read them: four decimals, or three significant digits
 * once they are below 0.01 (a converged regression, XOR). */
const char *session_loss_str(double v, char *buf) {
  snprintf(buf, 32, fabs(v) >= 0.01 || v == 0 ? "%.4f" : "%.3e", v);
  return buf;
}

void session_print_metrics(const char *what, const Metrics *m) {
  char l[32];
  printf("%s%s loss %s", *what ? "  " : "", what, session_loss_str(m->loss, l));
  if (!isnan(m->accuracy)) printf("  accuracy %.4f", m->accuracy);
}
