/* store: the flat parameter, state and gradient buffers (see store.h). */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "init.h"
#include "util.h"


static int64_t round_up(int64_t n) { return (n + STORE_ALIGN_FLOATS - 1) / STORE_ALIGN_FLOATS * STORE_ALIGN_FLOATS; }

float *store_alloc_floats(int64_t n) {
  size_t bytes = (size_t)round_up(n > 0 ? n : 1) * sizeof(float);
  float *p = big_alloc(bytes, 64);
  if (!p) out_of_memory((double)bytes);
  memset(p, 0, bytes);
  return p;
}

Tensor *store_find(const Store *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
  return NULL;
}

Tensor *store_add(Store *s, const IrNode *leaf) {
  if (s->param || s->state) die("store: %s added after the buffers were allocated", leaf->name);
  Tensor *t = store_find(s, leaf->name);
  if (t) {
    if (!shape_eq(t->shape, leaf->shape)) die("store: leaf %s has two shapes", leaf->name);
    return t;
  }
  s->t = xrealloc(s->t, sizeof(Tensor) * (size_t)(s->n + 1));
  t = &s->t[s->n++];
  *t = (Tensor){.name = leaf->name, .op = leaf->op, .shape = leaf->shape, .init = leaf->init,
                .numel = shape_numel(leaf->shape)};
  return t;
}

void store_alloc(Store *s) {
  s->param_floats = s->state_floats = 0;
  for (int i = 0; i < s->n; i++) {
    int64_t *end = s->t[i].op == OP_PARAM ? &s->param_floats : &s->state_floats;
    s->t[i].offset = *end;
    *end += round_up(s->t[i].numel);
  }
  s->param = store_alloc_floats(s->param_floats);
  s->state = store_alloc_floats(s->state_floats);
  s->grad = store_alloc_floats(s->param_floats);
}

void store_free(Store *s) {
  free(s->t);
  free(s->state);
  if (!s->shared) free(s->param), free(s->grad);
  *s = (Store){0};
}

float *store_data(const Store *s, const Tensor *t) { return (t->op == OP_PARAM ? s->param : s->state) + t->offset; }

float *store_grad(const Store *s, const Tensor *t) {
  if (t->op != OP_PARAM) die("store: %s has no gradient", t->name);
  return s->grad + t->offset;
}

void store_init_values(Store *s, Rng *rng) {
  for (int i = 0; i < s->n; i++) init_fill(&s->t[i].init, s->t[i].shape, store_data(s, &s->t[i]), rng);
}

float *store_snapshot_new(const Store *s) { return store_alloc_floats(s->param_floats + s->state_floats); }

void store_snapshot_take(const Store *s, float *snap) {
  memcpy(snap, s->param, sizeof(float) * (size_t)s->param_floats);
  memcpy(snap + s->param_floats, s->state, sizeof(float) * (size_t)s->state_floats);
}

void store_snapshot_restore(Store *s, const float *snap) {
  memcpy(s->param, snap, sizeof(float) * (size_t)s->param_floats);
  memcpy(s->state, snap + s->param_floats, sizeof(float) * (size_t)s->state_floats);
}
