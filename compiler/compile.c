/* compile: `nnc compile FILE.nn` -- a standalone object file and its header.
 *
 * In: a model, a batch size, optionally trained weights (a checkpoint) and a
 * target.  Out: PREFIX.o (or .s / .ll with --emit-asm / --emit-llvm) holding
 * the model's evaluation graph and train step, compiled by the same fuse,
 * plan and codegen stages as the JIT, with the entry points of abi.h; PREFIX.h
 * documenting them; and with --weights-file a weight image beside them.
 *
 * The selftest's reference output is computed here by the JIT on the same
 * graph with the same starting values the object's PREFIX_init produces
 * (the embedded weights, else the initializers drawn with the model's seed),
 * so a deployment that passes PREFIX_selftest runs what nnc ran.
 */
#include <llvm-c/Core.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "abi.h"
#include "ckpt.h"
#include "data.h"
#include "cli.h"
#include "emit.h"
#include "init.h"
#include "jit.h"
#include "outfile.h"
#include "pipeline.h"

/* The longest input, target or output name a header spells (in macros, in
 * upper case, and in prototypes). */
#define ABI_NAME_MAX 96

/* Seed of the selftest's stored input batch (uniform in [0, 1)). */
enum { SELFTEST_INPUT_SEED = 7919 };

/* A C identifier from the model name: other characters become '_'. */
static char *c_prefix(Arena *a, const char *name) {
  char *p = arena_printf(a, "%s%s", name[0] >= '0' && name[0] <= '9' ? "m_" : "", name);
  for (char *q = p; *q; q++)
    if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9'))) *q = '_';
  return p;
}

static float *aligned_floats(int64_t bytes) {
  size_t n = (size_t)(bytes > 0 ? bytes : 1);
  n = (n + ABI_ALIGN - 1) / ABI_ALIGN * ABI_ALIGN;
  float *p = aligned_alloc(ABI_ALIGN, n);
  if (!p) out_of_memory((double)n);
  memset(p, 0, n);
  return p;
}

/* The tensor region as PREFIX_init without weights leaves it. */
static void fill_initial(const AbiLayout *L, unsigned char *region) {
  Rng rng;
  rng_seed(&rng, L->m->train.seed);
  for (int i = 0; i < L->nslots; i++)
    init_fill(&L->slots[i].init, L->slots[i].shape, (float *)(region + L->slots[i].offset), &rng);
}

/* Overwrites the region with a checkpoint's tensors: every parameter must be
 * there, optimizer and layer state is taken when present (as `nnc eval`). */
static bool load_weights(const AbiLayout *L, const char *path, unsigned char *region, DataNorm *norm) {
  Checkpoint ck;
  char err[1024];
  if (!ckpt_read(path, NULL, 0, &ck, err, sizeof err)) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  if (L->m->train.data.standardize) data_norm_from_ckpt(&ck, (int)(L->in_total / L->batch), norm);
  bool ok = true;
  for (int i = 0; i < L->nslots && ok; i++) {
    const AbiSlot *s = &L->slots[i];
    const CkptTensor *t = ckpt_find(&ck, s->name);
    if (!t) {
      if (s->op == OP_STATE) continue;
      fprintf(stderr, "nnc: %s: has no tensor '%s' (is it a checkpoint of model %s?)\n", path, s->name,
              L->m->name);
      ok = false;
    } else if (!shape_eq(t->shape, s->shape)) {
      char a[96], b[96];
      fprintf(stderr, "nnc: %s: tensor '%s' has shape %s, the model expects %s\n", path, s->name,
              shape_str(t->shape, a), shape_str(s->shape, b));
      ok = false;
    } else {
      memcpy(region + s->offset, t->data, sizeof(float) * (size_t)s->numel);
    }
  }
  ckpt_free(&ck);
  return ok;
}

/* Runs the evaluation graph in the JIT on x (every input's batch in turn)
 * with the given tensor region; every output goes to out, in turn. */
static bool reference_output(const AbiLayout *L, const unsigned char *region, const float *x, float *out) {
  char err[1024];
  JitGraph *j = jit_compile(L->fwd->fp->g, NULL, err, sizeof err);
  if (!j) {
    fprintf(stderr, "nnc: %s\n", err);
    return false;
  }
  unsigned char *state = (unsigned char *)aligned_floats(L->state_bytes);
  memcpy(state, region, (size_t)L->tensor_bytes);
  for (int i = 0; i < L->ninputs; x += L->feeds[i++].floats)
    memcpy(state + L->feeds[i].off, x, sizeof(float) * (size_t)L->feeds[i].floats);
  for (int i = 0; i < jit_nleaves(j); i++) jit_bind(j, i, (float *)(state + abi_leaf_offset(L, jit_leaf(j, i))));
  jit_run(j);
  for (int o = 0; o < L->nouts; out += L->outs[o++].floats)
    memcpy(out, jit_output(j, L->outs[o].graph), sizeof(float) * (size_t)L->outs[o].floats);
  jit_free(j);
  free(state);
  return true;
}

static void upper(char *dst, const char *src, size_t n) {
  size_t i = 0;
  for (; src[i] && i + 1 < n; i++) dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
  dst[i] = 0;
}

/* "[4,2]" of a per-call buffer: batch then the per-sample shape. */
static char *batch_shape(int batch, Shape s, char *buf) {
  Shape b = {.ndim = s.ndim + 1};
  b.dim[0] = batch;
  for (int i = 0; i < s.ndim; i++) b.dim[i + 1] = s.dim[i];
  return shape_str(b, buf);
}

typedef struct {
  const char *source;      /* the .nn file */
  const char *command;     /* the whole nnc command line that wrote the files */
  const char *file;        /* the header's own file name */
  const char *object;      /* the object (or .s/.ll) file written beside it */
  const char *weights;     /* --weights, or NULL */
  bool embedded;           /* weights are in the object */
  const char *image;       /* --weights-file, or NULL */
  const Target *t;         /* what the object is for */
} HeaderInfo;

/* The signature lines of a model of several inputs, targets or outputs:
 * every buffer by its name. */
static void header_signature_multi(FILE *h, const AbiLayout *L) {
  const char *p = L->prefix;
  char s1[96];
  fprintf(h, " *   %s_forward:   ", p);
  for (int i = 0; i < L->ninputs; i++)
    fprintf(h, "%s %s %s", i ? "," : "", L->feeds[i].name, batch_shape(L->batch, L->feeds[i].shape, s1));
  fprintf(h, " ->");
  for (int o = 0; o < L->nouts; o++) fprintf(h, "%s %s %s", o ? "," : "", L->outs[o].name, shape_str(L->outs[o].shape, s1));
  fprintf(h, "\n *   %s_train_step:", p);
  for (int i = 0; i < L->nfeeds; i++)
    fprintf(h, "%s %s %s%s", i ? "," : "", L->feeds[i].name, batch_shape(L->batch, L->feeds[i].shape, s1),
            L->feeds[i].nclasses ? " (one-hot)" : "");
  fprintf(h, " -> loss (scalar, mean over the batch)\n");
}

static void header_buffers_multi(FILE *h, const AbiLayout *L, const char *P) {
  char U[128];
  for (int i = 0; i < L->nfeeds; i++) {
    upper(U, L->feeds[i].name, sizeof U);
    fprintf(h, " *   %-6s %14lld  4 (%s_%s_%s_FLOATS floats)\n", L->feeds[i].name, (long long)L->feeds[i].floats * 4, P,
            L->feeds[i].target ? "TARGET" : "IN", U);
  }
  for (int o = 0; o < L->nouts; o++) {
    upper(U, L->outs[o].name, sizeof U);
    fprintf(h, " *   %-6s %14lld  4 (%s_OUT_%s_FLOATS floats)\n", L->outs[o].name, (long long)L->outs[o].floats * 4, P, U);
  }
}

static void header_defines_multi(FILE *h, const AbiLayout *L, const char *P) {
  char U[128], name[192];
  int B = L->batch;
  for (int i = 0; i < L->nfeeds; i++) {
    const AbiFeed *f = &L->feeds[i];
    upper(U, f->name, sizeof U);
    const char *kind = f->target ? "TARGET" : "IN";
    snprintf(name, sizeof name, "%s_%s_SAMPLE", kind, U);
    fprintf(h, "#define %s_%-16s %lld   /* per sample */\n", P, name, (long long)(f->floats / B));
    snprintf(name, sizeof name, "%s_%s_FLOATS", kind, U);
    fprintf(h, "#define %s_%-16s %lld   /* per call */\n", P, name, (long long)f->floats);
    snprintf(name, sizeof name, "TARGET_%s_CLASSES", U);
    if (f->target) fprintf(h, "#define %s_%-16s %d\n", P, name, f->nclasses);
  }
  for (int o = 0; o < L->nouts; o++) {
    upper(U, L->outs[o].name, sizeof U);
    snprintf(name, sizeof name, "OUT_%s_WIDTH", U);
    fprintf(h, "#define %s_%-16s %lld   /* per sample */\n", P, name, (long long)(L->outs[o].floats / B));
    snprintf(name, sizeof name, "OUT_%s_FLOATS", U);
    fprintf(h, "#define %s_%-16s %lld\n", P, name, (long long)L->outs[o].floats);
  }
  fprintf(h, "#define %s_%-16s %lld   /* every input's, side by side */\n", P, "SAMPLE_FLOATS",
          (long long)(L->in_total / B));
}

static bool is_tensor_name(const AbiLayout *L, const char *name) {
  for (int i = 0; i < L->nfeeds; i++)
    if (!strcmp(L->feeds[i].name, name)) return true;
  for (int o = 0; o < L->nouts; o++)
    if (!strcmp(L->outs[o].name, name)) return true;
  return false;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* Names a tensor's pointer may not take in a prototype: the entries' own
 * parameters; the keywords of C (to C23), GNU C and C++ (the header declares
 * for both); and the object-like macros of the headers it includes (NULL,
 * SIZE_MAX, INT32_MIN, ...). */
static bool is_reserved(const char *name) {
  static const char *const reserved[] = {
      "state", "n", "NULL",
      "alignas", "alignof", "asm", "auto", "bool", "break", "case", "char", "const", "constexpr", "continue",
      "default", "do", "double", "else", "enum", "extern", "false", "float", "for", "goto", "if", "inline", "int",
      "long", "nullptr", "register", "restrict", "return", "short", "signed", "sizeof", "static",
      "static_assert", "struct", "switch", "thread_local", "true", "typedef", "typeof", "typeof_unqual", "union",
      "unsigned", "void", "volatile", "while",
      "and", "and_eq", "bitand", "bitor", "catch", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
      "const_cast", "consteval", "constinit", "co_await", "co_return", "co_yield", "decltype", "delete",
      "dynamic_cast", "explicit", "export", "friend", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "operator", "or", "or_eq", "private", "protected", "public", "reinterpret_cast", "requires", "static_cast",
      "template", "this", "throw", "try", "typeid", "typename", "using", "virtual", "wchar_t", "xor", "xor_eq"};
  if (!strpbrk(name, "abcdefghijklmnopqrstuvwxyz") &&
      (ends_with(name, "_MIN") || ends_with(name, "_MAX") || ends_with(name, "_WIDTH")))
    return true;
  for (size_t i = 0; i < COUNT_OF(reserved); i++)
    if (!strcmp(name, reserved[i])) return true;
  return false;
}

/* The parameter name of tensor `name` in a prototype: the name itself; a
 * name C keeps for the implementation everywhere (__x, _X) with a 'p' in
 * front; a reserved one with '_' appended; either until it is neither
 * reserved nor another tensor's name.  Names are at most ABI_NAME_MAX
 * characters (fits_abi), so buf holds the result. */
static const char *param_name(const AbiLayout *L, const char *name, char *buf, size_t cap) {
  bool implementations = name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z'));
  if (!implementations && !is_reserved(name)) return name;
  snprintf(buf, cap, "%s%s", implementations ? "p" : "", name);
  while (is_reserved(buf) || is_tensor_name(L, buf)) strncat(buf, "_", cap - strlen(buf) - 1);
  return buf;
}

/* forward and train_step of a model of several inputs, targets or outputs;
 * every pointer is named after its tensor. */
static void header_entries_multi(FILE *h, const AbiLayout *L, const char *P) {
  const char *p = L->prefix;
  char name[ABI_NAME_MAX + 2 * ABI_MAX_FEEDS + 8];
  fprintf(h, "/* Evaluation mode on n <= %s_BATCH samples: each input holds n rows of its sample floats\n"
             " * (%s_IN_NAME_SAMPLE), each output receives n rows (%s_OUT_NAME_WIDTH).  0, or -1 for\n"
             " * a bad n or a misaligned state. */\nint %s_forward(void *state", P, P, P, p);
  for (int i = 0; i < L->ninputs; i++)
    fprintf(h, ", const float *%s", param_name(L, L->feeds[i].name, name, sizeof name));
  fprintf(h, ", int n");
  for (int o = 0; o < L->nouts; o++) fprintf(h, ", float *%s", param_name(L, L->outs[o].name, name, sizeof name));
  fprintf(h, ");\n/* One optimizer step on a full batch of every input and target (%s_IN_NAME_FLOATS,\n"
             " * %s_TARGET_NAME_FLOATS floats; one-hot rows for class targets): forward, backward,\n"
             " * update.  Returns the loss before the update (NaN if misaligned). */\nfloat %s_train_step(void *state",
          P, P, p);
  for (int i = 0; i < L->nfeeds; i++)
    fprintf(h, ", const float *%s", param_name(L, L->feeds[i].name, name, sizeof name));
  fprintf(h, ");\n");
}

/* The header's opening comment: where it came from, the signature, buffers,
 * the state block's tensors, and where the weights come from. */
static void header_comment(FILE *h, const AbiLayout *L, const HeaderInfo *hi, const char *P) {
  const Model *m = L->m;
  const char *p = L->prefix;
  char s1[96], s2[96];
  int B = L->batch;
  const ModelValue *x = &m->inputs[0];
  const ModelValue *y = m->ntargets ? &m->targets[0] : NULL;
  Shape out_shape = ir_find_output(L->fwd->fp->g, "output")->shape;
  const char *base = strrchr(hi->file, '/');
  fprintf(h, "/* %s: standalone model '%s' (ABI version %d), generated by\n *   %s\n", base ? base + 1 : hi->file,
          m->name, ABI_VERSION, hi->command);
  const char *obj = strrchr(hi->object, '/');
  fprintf(h, " * Link with: cc main.c %s -lm   (nothing else: only libc and libm are used)\n *\n",
          obj ? obj + 1 : hi->object);
  fprintf(h, " * Compiled for batch %d (%s_BATCH), target %s, cpu %s.\n", B, P, hi->t->triple, hi->t->cpu);
  fprintf(h, " * Logical signature (float32, row-major, one batch per call):\n");
  if (L->multi) {
    header_signature_multi(h, L);
  } else {
    fprintf(h, " *   %s_forward:    %s %s -> output %s  (%s)\n", p, x->name, batch_shape(B, x->shape, s1),
            shape_str(out_shape, s2), m->output_name ? m->output_name : "output");
    fprintf(h, " *   %s_train_step: %s %s", p, x->name, batch_shape(B, x->shape, s1));
    if (y)
      fprintf(h, ", %s %s%s", y->name, batch_shape(B, y->shape, s2),
              y->nclasses ? " (one-hot class labels)" : "");
    fprintf(h, " -> loss (scalar, mean over the batch)\n");
  }
  if (m->train.data.scale != 1)
    fprintf(h, " * Inputs: the model was trained on features multiplied by %.9g; scale yours alike.\n",
            m->train.data.scale);
  if (m->train.data.standardize)
    fprintf(h, " * Inputs: the model was trained on features standardized with the training set's\n"
               " * per-feature statistics: x[i] = (x[i] - %s_input_mean[i]) / %s_input_std[i] (where\n"
               " * std is 0, subtract only) before %s_forward and %s_train_step.\n", p, p, p, p);
  fprintf(h, " *\n * Buffers                 bytes  alignment\n");
  fprintf(h, " *   state  %14lld  %d (caller-owned, one per instance: %s_STATE_BYTES)\n",
          (long long)L->state_bytes, ABI_ALIGN, P);
  if (L->multi) {
    header_buffers_multi(h, L, P);
  } else {
    fprintf(h, " *   x      %14lld  4 (%s_INPUT_FLOATS floats)\n", (long long)L->x_floats * 4, P);
    if (L->y_floats) fprintf(h, " *   y      %14lld  4 (%s_TARGET_FLOATS floats)\n", (long long)L->y_floats * 4, P);
    fprintf(h, " *   out    %14lld  4 (%s_OUTPUT_FLOATS floats)\n", (long long)L->out_floats * 4, P);
  }
  fprintf(h, " *\n * Tensors in the state block (byte offsets; %s_get/%s_set by name):\n", p, p);
  fprintf(h, " *   %-24s %-6s %-14s %10s %10s\n", "name", "kind", "shape", "offset", "floats");
  for (int i = 0; i < L->nslots; i++) {
    const AbiSlot *s = &L->slots[i];
    fprintf(h, " *   %-24s %-6s %-14s %10lld %10lld\n", s->name, s->op == OP_PARAM ? "param" : "state",
            shape_str(s->shape, s1), (long long)s->offset, (long long)s->numel);
  }
  if (L->multi)
    for (int i = 0; i < L->nfeeds; i++)
      fprintf(h, " *   (%s batch at %lld)\n", L->feeds[i].name, (long long)L->feeds[i].off);
  if (L->multi)
    fprintf(h, " *   (workspace at %lld)\n *\n", (long long)L->ws_off);
  else
    fprintf(h, " *   (input batch at %lld, target batch at %lld, workspace at %lld)\n *\n", (long long)L->x_off,
            (long long)L->y_off, (long long)L->ws_off);
  if (hi->embedded)
    fprintf(h, " * Weights: embedded from %s; %s_init loads them (its seed is unused).\n", hi->weights, p);
  else if (hi->image)
    fprintf(h, " * Weights: %s_init draws the initializers; load trained weights from the image\n"
               " * %s (from %s) with %s_load.\n", p, hi->image, hi->weights, p);
  else
    fprintf(h, " * Weights: %s_init(state, seed) draws the model's initializers (seed %llu is what\n"
               " * `nnc train` uses for this model).\n", p, m->train.seed);
  fprintf(h, " * Denormals: the caller's floating-point environment is used as is (nnc train\n"
             " * flushes denormals to zero for speed; do the same if training is slow).\n */\n");
}

/* The declarations: the macros and the entry points' prototypes. */
static void header_api(FILE *h, const AbiLayout *L, const HeaderInfo *hi, const char *P) {
  const Model *m = L->m;
  const char *p = L->prefix;
  int B = L->batch;
  const ModelValue *y = m->ntargets ? &m->targets[0] : NULL;
  fprintf(h, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", P, P);
  fprintf(h, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  struct {
    const char *name;   /* macro name after the prefix */
    long long v;        /* its value */
  } defs[] = {
    {"ABI_VERSION", ABI_VERSION}, {"BATCH", B}, {"STATE_BYTES", L->state_bytes}, {"STATE_ALIGN", ABI_ALIGN},
    {"SAMPLE_FLOATS", L->x_floats / B}, {"INPUT_FLOATS", L->x_floats}, {"TARGET_FLOATS", L->y_floats},
    {"CLASSES", y ? y->nclasses : 0}, {"OUTPUT_WIDTH", L->out_floats / B}, {"OUTPUT_FLOATS", L->out_floats},
    {"NTENSORS", L->nslots}, {"IMAGE_BYTES", ABI_IMAGE_HEADER + L->tensor_bytes},
    {"WEIGHTS_EMBEDDED", hi->embedded},
  };
  for (size_t i = 0; i < COUNT_OF(defs); i++) {
    if (L->multi && i == 4) header_defines_multi(h, L, P);
    if (!L->multi || i < 4 || i > 9) fprintf(h, "#define %s_%-16s %lld\n", P, defs[i].name, defs[i].v);
  }
  fprintf(h, "#define %s_%-16s 0x%016llxull\n\n", P, "LAYOUT_HASH", (unsigned long long)L->layout_hash);
  fprintf(h,
          "/* Fills the state (%s_STATE_BYTES, %d-byte aligned): zeros, then the embedded weights or\n"
          " * the initializers drawn from seed.  0, or -1 if state is misaligned. */\n"
          "int %s_init(void *state, uint64_t seed);\n"
          "/* Loads a weight image (%s_IMAGE_BYTES bytes, e.g. a --weights-file). 0, or -1 if it\n"
          " * does not belong to this model or ABI version, or state is misaligned. */\n"
          "int %s_load(void *state, const void *image, size_t bytes);\n",
          P, ABI_ALIGN, p, P, p);
  if (L->multi)
    header_entries_multi(h, L, P);
  else
    fprintf(h,
            "/* Evaluation mode on n <= %s_BATCH samples: x is n * %s_SAMPLE_FLOATS floats, out\n"
            " * receives n * %s_OUTPUT_WIDTH.  0, or -1 for a bad n or a misaligned state. */\n"
            "int %s_forward(void *state, const float *x, int n, float *out);\n"
            "/* One optimizer step on a full batch (x: %s_INPUT_FLOATS, y: %s_TARGET_FLOATS floats):\n"
            " * forward, backward, update.  Returns the loss before the update (NaN if misaligned). */\n"
            "float %s_train_step(void *state, const float *x, const float *y);\n",
            P, P, P, p, P, P, p);
  fprintf(h,
          "/* Copy a tensor of the table above out of / into the state; count must be its number of\n"
          " * floats.  0, or -1 for an unknown name or a wrong count. */\n"
          "int %s_get(const void *state, const char *name, float *out, size_t count);\n"
          "int %s_set(void *state, const char *name, const float *in, size_t count);\n"
          "/* Runs %s_init(%llu) and forward on a stored batch and compares with the output nnc\n"
          " * computed at compile time (|diff| <= 1e-4 + 1e-4 |expected|).  Returns the number of\n"
          " * outputs that differ (0: the build is sound), -1 when out of memory. */\n"
          "int %s_selftest(void);\n\n",
          p, p, p, m->train.seed, p);
  if (m->train.data.standardize)
    fprintf(h, "/* The training set's per-feature mean and standard deviation (see above). */\n"
               "extern const float %s_input_mean[%s_SAMPLE_FLOATS];\n"
               "extern const float %s_input_std[%s_SAMPLE_FLOATS];\n\n", p, P, p, P);
  fprintf(h, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

static void write_header(FILE *h, const AbiLayout *L, const HeaderInfo *hi) {
  char P[128];
  upper(P, L->prefix, sizeof P);
  header_comment(h, L, hi, P);
  header_api(h, L, hi, P);
}

/* path with its extension (if any) replaced by ext. */
static char *swap_ext(Arena *a, const char *path, const char *ext) {
  const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
  size_t n = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
  return arena_printf(a, "%.*s%s", (int)n, path, ext);
}

/* The command as given ("nnc compile m.nn --weights w.ckpt -o m.o"), so the
 * header says how to rebuild the object. */
static const char *command_line(const Cli *c, Arena *a) {
  const char *s = arena_printf(a, "nnc %s %s", c->command, c->pos[0]);
  for (int i = 0; i < c->nopts; i++)
    s = *c->opt_value[i] ? arena_printf(a, "%s --%s %s", s, c->opt_name[i], c->opt_value[i])
                         : arena_printf(a, "%s --%s", s, c->opt_name[i]);
  return s;
}

/* A name the header spells in macros and prototypes, and where it was
 * declared. */
typedef struct {
  const char *name;
  Loc loc;
} HeaderName;

/* Whether one of n names (one kind: inputs, targets or outputs) is too long
 * for the header, or two differ only in case: the header's macros spell
 * them in upper case (FASHION_IN_IMAGE_FLOATS), so they would define one
 * macro twice. */
static bool bad_names(Front *f, const HeaderName *v, int n, const char *what) {
  for (int i = 0; i < n; i++) {
    if (strlen(v[i].name) > ABI_NAME_MAX) {
      diag_error(&f->diag, v[i].loc,
                 "'%.20s...' is %zu characters long; nnc compile names the C header's macros and parameters after %s "
                 "in at most %d: shorten it to compile this model",
                 v[i].name, strlen(v[i].name), what, ABI_NAME_MAX);
      return true;
    }
    for (int k = 0; k < i; k++)
      if (!strcasecmp(v[i].name, v[k].name)) {
        diag_error(&f->diag, v[i].loc,
                   "%s '%s' and '%s' differ only in case, and the C header names its macros after them in upper "
                   "case: rename one to compile this model",
                   what, v[k].name, v[i].name);
        return true;
      }
  }
  return false;
}

/* Where output o was declared: its binding, else the loss statement. */
static Loc output_loc(const Model *m, int o) {
  for (int i = 0; i < m->nbindings; i++)
    if (!strcmp(m->bindings[i].name, m->outputs[o].name)) return m->bindings[i].loc;
  return m->loss_loc;
}

/* Whether the model has what the C interface needs, and names it can carry. */
static bool fits_abi(Front *f, const char *path) {
  const Model *m = f->model;
  if (m->ninputs < 1 || !m->noutputs || m->ninputs + m->ntargets > ABI_MAX_FEEDS || m->noutputs > ABI_MAX_FEEDS) {
    fprintf(stderr, "%s: error: nnc compile needs an input, an output and at most %d inputs and targets (this model "
                    "has %d input(s), %d target(s)%s)\n",
            path, ABI_MAX_FEEDS, m->ninputs, m->ntargets, m->noutputs ? "" : ", no output");
    return false;
  }
  if (m->ninputs == 1 && m->ntargets <= 1 && m->noutputs == 1) return true;   /* x, y and out: no names */
  HeaderName in[ABI_MAX_FEEDS], tg[ABI_MAX_FEEDS], out[ABI_MAX_FEEDS];
  for (int i = 0; i < m->ninputs; i++) in[i] = (HeaderName){m->inputs[i].name, m->inputs[i].loc};
  for (int i = 0; i < m->ntargets; i++) tg[i] = (HeaderName){m->targets[i].name, m->targets[i].loc};
  for (int o = 0; o < m->noutputs; o++) out[o] = (HeaderName){m->outputs[o].name, output_loc(m, o)};
  return !bad_names(f, in, m->ninputs, "inputs") && !bad_names(f, tg, m->ntargets, "targets") &&
         !bad_names(f, out, m->noutputs, "outputs");
}

/* One `nnc compile`: what it was asked, what it built, and what it owns
 * (freed by job_free whatever step stopped it). */
typedef struct {
  const Cli *c;
  Front f;
  Target t;
  int batch;
  EmitKind kind;
  const char *prefix;       /* of every C name: the model's name, made an identifier */
  const char *out, *header; /* the object (or .s/.ll) and the header */
  const char *weights;      /* --weights CHECKPOINT, or NULL */
  const char *image_path;   /* --weights-file FILE, or NULL */
  bool embedded;            /* the weights go into the object */
  Planned *plan[2];         /* forward, train step */
  AbiLayout L;
  unsigned char *initial;   /* the tensor region as the initializers draw it */
  unsigned char *region;    /* the weight image: its header, then the tensors */
  float *test_x, *test_out; /* the self-test's input and expected output */
  Dataset train;            /* training data, when only it has the standardization statistics */
  DataNorm norm;
  LLVMContextRef ctx;
  char *bytes[2];           /* the object and the header, in memory */
  size_t lens[2];
  OutFile staged[3];        /* object, header, image */
  char err[1024];
} CompileJob;

static bool job_fail(CompileJob *j) {
  fprintf(stderr, "nnc compile: %s\n", j->err);
  return false;
}

/* Options, target and output paths, all checked before any work. */
static bool job_options(CompileJob *j) {
  const Cli *c = j->c;
  const Model *m = j->f.model;
  long long batch = m->train.batch;
  if (!cli_int(c, "batch", 1, 1 << 20, &batch) || !front_check_batch(&j->f, (int)batch)) return false;
  j->batch = (int)batch;
  bool emit_llvm = cli_flag(c, "emit-llvm"), emit_asm = cli_flag(c, "emit-asm");
  if (emit_llvm && emit_asm) {
    fprintf(stderr, "nnc compile: --emit-llvm and --emit-asm exclude each other\n");
    return false;
  }
  j->kind = emit_llvm ? EMIT_LLVM : emit_asm ? EMIT_ASM : EMIT_OBJECT;
  j->weights = cli_get(c, "weights");
  j->image_path = cli_get(c, "weights-file");
  if (j->image_path && !j->weights) {
    fprintf(stderr, "nnc compile: --weights-file FILE writes the weights of --weights CHECKPOINT; give both\n");
    return false;
  }
  j->embedded = j->weights && !j->image_path;
  if (!target_resolve(&j->t, cli_get(c, "target"), cli_get(c, "cpu"), cli_get(c, "features"), j->err, sizeof j->err))
    return job_fail(j);
  if (!j->t.lp64_le) {
    fprintf(stderr, "nnc compile: target %s: only 64-bit little-endian targets are supported\n", j->t.triple);
    return false;
  }
  j->prefix = c_prefix(j->f.arena, m->name);
  j->out = cli_get(c, "output");
  if (!j->out) j->out = arena_printf(j->f.arena, "%s%s", j->prefix, emit_llvm ? ".ll" : emit_asm ? ".s" : ".o");
  j->header = cli_get(c, "header") ? cli_get(c, "header") : swap_ext(j->f.arena, j->out, ".h");
  const char *paths[4] = {c->pos[0], j->out, j->header, j->image_path};
  for (int i = 0; i < 4; i++)
    for (int k = i + 1; k < 4; k++)
      if (paths[i] && paths[k] && outfile_same(paths[i], paths[k])) {
        fprintf(stderr, "nnc compile: %s would be written twice (or over the model); give each output its own path\n",
                paths[k]);
        return false;
      }
  for (int i = 1; i < 4; i++)   /* a bad output path fails now, not after the compile */
    if (paths[i] && !outfile_check(paths[i], j->err, sizeof j->err)) return job_fail(j);
  return true;
}

/* The tensor region (initializers, then the checkpoint's values), and the
 * self-test: a seeded input and the reference output the object must give. */
static bool job_tensors(CompileJob *j) {
  const AbiLayout *L = &j->L;
  j->initial = (unsigned char *)aligned_floats(L->tensor_bytes);
  fill_initial(L, j->initial);
  j->region = (unsigned char *)aligned_floats(ABI_IMAGE_HEADER + L->tensor_bytes);
  abi_image_header(L, j->region);
  memcpy(j->region + ABI_IMAGE_HEADER, j->initial, (size_t)L->tensor_bytes);
  if (j->weights && !load_weights(L, j->weights, j->region + ABI_IMAGE_HEADER, &j->norm)) return false;
  j->test_x = aligned_floats(L->in_total * 4);
  j->test_out = aligned_floats(L->out_total * 4);
  Rng rng;
  rng_seed(&rng, SELFTEST_INPUT_SEED);
  for (int64_t i = 0; i < L->in_total; i++) j->test_x[i] = rng_float(&rng);
  return reference_output(L, j->embedded ? j->region + ABI_IMAGE_HEADER : j->initial, j->test_x, j->test_out);
}

/* The standardization statistics of a model that standardizes its inputs:
 * the checkpoint's, or else computed from the training data as nnc train
 * would. */
static bool job_norm(CompileJob *j) {
  const Model *m = j->f.model;
  if (!m->train.data.standardize || j->norm.nfeat) return true;
  if (m->train.data.nbinds) {
    fprintf(stderr, "nnc compile: %s standardizes inputs its source names one by one; give --weights CKPT, whose "
                    "checkpoint holds the statistics\n", m->name);
    return false;
  }
  int nclasses = m->ntargets ? m->targets[0].nclasses : 0;
  int ntarget = !m->ntargets ? 0 : nclasses ? nclasses : (int)shape_numel(m->targets[0].shape);
  if (!data_load(&m->train.data, (int)(j->L.x_floats / j->L.batch), nclasses, ntarget, &j->train, j->err,
                 sizeof j->err)) {
    fprintf(stderr, "nnc compile: %s (needed for its standardization statistics)\n", j->err);
    return false;
  }
  data_norm_fit(&j->train, &j->norm);
  return true;
}

/* The object (or assembly, or LLVM IR) and the header, into memory. */
static bool job_emit(CompileJob *j) {
  const Model *m = j->f.model;
  AbiData d = {.image = j->embedded ? j->region : NULL, .image_bytes = ABI_IMAGE_HEADER + j->L.tensor_bytes,
               .test_x = j->test_x, .test_out = j->test_out, .test_seed = m->train.seed,
               .input_mean = j->norm.mean, .input_std = j->norm.std};
  j->ctx = LLVMContextCreate();
  LLVMModuleRef mod = abi_module(j->ctx, &j->L, &d);
  bool ok = emit_module(mod, &j->t, j->kind, &j->bytes[0], &j->lens[0], j->err, sizeof j->err);
  LLVMDisposeModule(mod);
  if (!ok) return job_fail(j);
  FILE *h = open_memstream(&j->bytes[1], &j->lens[1]);
  if (!h) die("open_memstream failed");
  write_header(h, &j->L,
               &(HeaderInfo){j->c->pos[0], command_line(j->c, j->f.arena), j->header, j->out, j->weights,
                             j->embedded, j->image_path, &j->t});
  fclose(h);
  return true;
}

/* Every file is staged whole beside its target, then all are put in place,
 * so a failure (a full disk) leaves no half-set of outputs and no old file
 * replaced by a broken one. */
static bool job_write(CompileJob *j) {
  const char *finals[3] = {j->out, j->header, j->image_path};
  const void *data[3] = {j->bytes[0], j->bytes[1], j->region};
  size_t sizes[3] = {j->lens[0], j->lens[1], (size_t)(ABI_IMAGE_HEADER + j->L.tensor_bytes)};
  for (int i = 0; i < 3; i++)
    if (finals[i] && !outfile_stage(&j->staged[i], finals[i], data[i], sizes[i], j->err, sizeof j->err))
      return job_fail(j);
  for (int i = 0; i < 3; i++)
    if (finals[i] && !outfile_commit(&j->staged[i], j->err, sizeof j->err)) return job_fail(j);
  return true;
}

static void job_free(CompileJob *j) {
  for (int i = 0; i < 3; i++) outfile_discard(&j->staged[i]);   /* nothing left after a failure */
  free(j->bytes[0]);
  free(j->bytes[1]);
  data_norm_free(&j->norm);
  data_free(&j->train);
  if (j->ctx) LLVMContextDispose(j->ctx);
  for (int i = 0; i < 2; i++) pipeline_plan_free(j->plan[i]);
  free(j->test_x);
  free(j->test_out);
  free(j->region);
  free(j->initial);
  target_free(&j->t);
  front_free(&j->f);
}

int cmd_compile(const Cli *c) {
  CompileJob job = {.c = c, .staged = {{.fd = -1}, {.fd = -1}, {.fd = -1}}}, *j = &job;
  bool ok = front_load(&j->f, c->pos[0], c) && fits_abi(&j->f, c->pos[0]) && job_options(j);
  if (ok) {
    const Model *m = j->f.model;
    j->plan[0] = pipeline_plan(pipeline_graph(m, j->f.arena, PIPE_FORWARD, j->batch, false), &j->t);
    j->plan[1] = pipeline_plan(pipeline_graph(m, j->f.arena, PIPE_TRAIN, j->batch, false), &j->t);
    abi_layout(&j->L, j->f.arena, m, j->prefix, j->batch, j->plan[0]->sched, j->plan[1]->sched);
    ok = job_tensors(j) && job_norm(j) && job_emit(j) && job_write(j);
  }
  if (ok)
    printf("wrote %s and %s%s%s: %s_* for batch %d, state block %lld bytes\n", j->out, j->header,
           j->image_path ? " and " : "", j->image_path ? j->image_path : "", j->prefix, j->batch,
           (long long)j->L.state_bytes);
  job_free(j);
  return ok ? 0 : 1;
}
