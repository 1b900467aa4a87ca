/* abi: the C interface of a standalone compiled model (docs/abi.md).
 *
 * In: a checked Model, the memory plans of its evaluation graph and its train
 * step (both for one batch size), and the data to embed.  Out: the layout of
 * the caller-owned state block and one LLVM module holding the generated
 * kernels of both graphs (codegen_module, unchanged) and the entry points
 * PREFIX_init, _load, _forward, _train_step, _get, _set and _selftest, all
 * built in IR here.  The module needs nothing but libc (memcpy, memset,
 * memcmp, strcmp, aligned_alloc, free) and libm (log, cos, nextafterf and
 * whatever the kernels call).
 *
 * The state block (64-byte aligned, PREFIX_STATE_BYTES; no target nnc knows
 * needs more) holds, in order:
 * every PARAM/STATE tensor (each at a multiple of 64 bytes; the order is the
 * one `nnc train` fills them in, so PREFIX_init(seed) draws the same weights
 * as `nnc train` with that seed), the input and target batch buffers, and
 * one workspace both graphs share (buffers and one thread's scratch).  Nothing else is mutable: two blocks are
 * two independent instances.
 *
 * Weight images (embedded, --weights-file, PREFIX_load): a 24-byte header
 * ("NNCW", u32 ABI version, u64 layout hash, u64 payload bytes, little
 * endian) then the tensor region of the state block as it is in memory.
 */
#ifndef NNC_ABI_H
#define NNC_ABI_H

#include <llvm-c/Core.h>
#include <stdint.h>

#include "schedule.h"
#include "sema.h"

enum {
  ABI_VERSION = 1,        /* bump on any change to the entry points or layouts */
  ABI_ALIGN = 64,         /* bytes: state block and every buffer in it */
  ABI_IMAGE_HEADER = 24,  /* bytes before a weight image's payload */
  ABI_MAX_FEEDS = 32,     /* inputs + targets, and outputs, of a compiled model */
};

typedef struct {
  const char *name;   /* leaf name ("h1.w", "adam.m/h1.w") */
  IrOp op;            /* OP_PARAM or OP_STATE */
  Shape shape;        /* dimensions */
  IrInit init;        /* its initializer */
  int64_t offset;     /* bytes from the state block's start, multiple of ABI_ALIGN */
  int64_t numel;      /* floats */
} AbiSlot;

/* An input or target batch buffer in the state block. */
typedef struct {
  const char *name;         /* the input or target */
  bool target;              /* a target (train_step only) */
  Shape shape;              /* per sample ([k] for a class(k) target: one-hot) */
  int nclasses;             /* > 0: a class target */
  int64_t off;              /* bytes from the state block's start */
  int64_t floats;           /* batch * floats per sample */
} AbiFeed;

/* An output forward writes. */
typedef struct {
  const char *graph;        /* the evaluation graph's output ("output", "output NAME") */
  const char *name;         /* the binding it is ("logits") */
  Shape shape;              /* per call ([batch, ...]) */
  int64_t floats;           /* batch * floats per sample */
} AbiOut;

typedef struct {
  const Model *m;           /* the model */
  const char *prefix;       /* C identifier prefix of every symbol */
  int batch;                /* samples per call of forward and train_step */
  const MemPlan *fwd;       /* evaluation graph's plan (outputs "loss", "output") */
  const MemPlan *train;     /* train step's plan (updates written into slots) */
  const Schedule *fwd_sched;    /* their schedules (workspace and scratch sizes) */
  const Schedule *train_sched;
  int nslots;               /* PARAM/STATE tensors */
  AbiSlot *slots;           /* in state order */
  int64_t tensor_bytes;     /* bytes of the tensor region (slots and padding) */
  AbiFeed *feeds;           /* every input, then every target: one pointer each in the entry points */
  int nfeeds, ninputs;      /* how many, how many of them inputs */
  AbiOut *outs;             /* every output: one pointer each in forward */
  int nouts;                /* how many */
  bool multi;               /* several inputs, targets or outputs: entry points name each */
  int64_t x_off;            /* bytes: the (first) input's batch buffer */
  int64_t x_floats;         /* batch * floats per sample */
  int64_t y_off;            /* bytes: the (first) target's batch buffer (one-hot for classes) */
  int64_t y_floats;         /* batch * target floats per sample (0: no target) */
  int64_t out_floats;       /* floats forward writes for the (first) output (batch * output width) */
  int64_t in_total;         /* floats of every input's batch, side by side (selftest data) */
  int64_t out_total;        /* floats of every output, side by side */
  int64_t ws_off;           /* bytes: shared workspace */
  int64_t ws_bytes;         /* its size */
  int64_t state_bytes;      /* the whole block, multiple of ABI_ALIGN */
  uint64_t layout_hash;     /* ckpt_layout_hash of the slots (weight images carry it) */
} AbiLayout;

/* What gets embedded as constant data. */
typedef struct {
  const unsigned char *image;   /* weight image loaded by PREFIX_init, or NULL (initializers run) */
  int64_t image_bytes;          /* its size */
  const float *test_x;          /* selftest inputs, in_total: each input's batch in turn */
  const float *test_out;        /* the outputs recorded for them, out_total: each output in turn */
  uint64_t test_seed;           /* seed PREFIX_selftest passes to PREFIX_init */
  const float *input_mean;      /* standardized models: the training set's per-feature mean, */
  const float *input_std;       /* and std (in_total / batch floats each, inputs in order), exported; NULL otherwise */
} AbiData;

/* The layout of m's state block.  The model must have one input and an
 * output (the caller checks); fwd and train are plans for graphs of `batch`.
 * Arrays live in `a`. */
void abi_layout(AbiLayout *L, Arena *a, const Model *m, const char *prefix, int batch, const Schedule *fwd,
                const Schedule *train);

/* Byte offset in the state block of the buffer holding plan leaf `leaf`. */
int64_t abi_leaf_offset(const AbiLayout *L, const IrNode *leaf);

/* The 24-byte header of a weight image for L (payload L->tensor_bytes). */
void abi_image_header(const AbiLayout *L, unsigned char out[ABI_IMAGE_HEADER]);

/* The whole module: both graphs' kernels and every entry point, each function
 * tagged with the target the schedules were made for.  Only PREFIX_* symbols
 * are exported. */
LLVMModuleRef abi_module(LLVMContextRef ctx, const AbiLayout *L, const AbiData *d);

#endif
