/* store: a model's persistent tensors in three flat, aligned buffers.
 *
 * Every PARAM leaf lives in one `param` buffer, every STATE leaf (optimizer
 * moments, counters, hyperparameters, running statistics) in one `state`
 * buffer, and the gradients in one `grad` buffer laid out exactly like
 * `param` (the gradient of a parameter sits at the parameter's offset).  A
 * tensor is a name, a shape and an offset into its buffer, each offset a
 * multiple of 16 floats (64 bytes), so every tensor is aligned for the
 * generated code.  Saving, snapshotting or reducing all parameters (or all
 * gradients) is then one copy or one call over one buffer.
 *
 * The set of tensors is fixed when the store is built (store_add for each
 * leaf, then store_alloc), before any graph is compiled; graphs bind their
 * leaves to store_data addresses.
 */
#ifndef NNC_STORE_H
#define NNC_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"
#include "rng.h"

/* Every tensor starts at a multiple of this many floats (64 bytes). */
enum { STORE_ALIGN_FLOATS = 16 };

typedef struct {
  const char *name;    /* leaf name ("h1.w", "adam.m/h1.w", "adam.lr") */
  IrOp op;             /* OP_PARAM or OP_STATE */
  Shape shape;         /* its shape */
  IrInit init;         /* how it starts */
  int64_t offset;      /* floats from the start of its buffer, a multiple of 16 */
  int64_t numel;       /* floats */
  bool model_state;    /* STATE an evaluation graph reads (running statistics):
                          part of the model, unlike optimizer state */
  bool hyper;          /* an optimizer hyperparameter (learning rate, betas, ...) */
} Tensor;

typedef struct {
  Tensor *t;             /* tensors, in the order they were added */
  int n;                 /* count */
  float *param;          /* every PARAM tensor (64-byte aligned, zeroed) */
  int64_t param_floats;  /* its length, a multiple of 16 */
  float *state;          /* every STATE tensor */
  int64_t state_floats;  /* its length, a multiple of 16 */
  float *grad;           /* one gradient per PARAM tensor, at the same offsets */
  bool shared;           /* param and grad lie in memory the MPI ranks of one machine share
                            (dist.c places and frees them); store_free leaves them */
} Store;

/* Adds a tensor for leaf (PARAM or STATE) unless one of that name exists;
 * returns it.  Only before store_alloc. */
Tensor *store_add(Store *s, const IrNode *leaf);
/* Allocates the three buffers (zeroed). */
void store_alloc(Store *s);
void store_free(Store *s);

Tensor *store_find(const Store *s, const char *name);
/* The tensor's first float. */
float *store_data(const Store *s, const Tensor *t);
/* The gradient of PARAM tensor t. */
float *store_grad(const Store *s, const Tensor *t);

/* Fills every tensor from its initializer, in store order, drawing from rng
 * (so the same seed gives the same weights as any earlier run). */
void store_init_values(Store *s, Rng *rng);

/* A copy of the param and state buffers, and copying it back: one memcpy
 * each (the epoch snapshot and the early-stopping best). */
float *store_snapshot_new(const Store *s);
void store_snapshot_take(const Store *s, float *snap);
void store_snapshot_restore(Store *s, const float *snap);

/* One 64-byte aligned, zeroed buffer of n floats (rounded up); dies when
 * memory cannot be had. */
float *store_alloc_floats(int64_t n);

#endif
