/* check_emit: the standalone-object back end (abi.c, emit.c).
 *
 * The generated entry points are loaded into an ORC JIT here (process symbols
 * give them libc and libm, as a linker would) and called like a deployment:
 *  - PREFIX_init draws, for every initializer kind, exactly the bits
 *    runtime/init.c draws from the same seed (uniform with its half-open
 *    clamp, normal, xavier, kaiming, constants, explicit values, zeros);
 *  - the state layout: tensors in `nnc train`'s order, 64-byte aligned, no
 *    overlaps, batch buffers and workspace after them;
 *  - get/set/load accept what they should and refuse the rest;
 *  - forward and train_step agree with the JIT'd graphs (jit.h) bit for bit;
 *  - emit_target refuses unknown and big-endian targets; objects, assembly
 *    and IR text are written.
 * The end-to-end link with `cc` is tests/e2e/compile_xor.sh.
 */
#include <check.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "ast.h"
#include "codegen.h"
#include "emit.h"
#include "init.h"
#include "jit.h"
#include "pipeline.h"
#include "testutil.h"

static const char SRC[] =
    "model t\n"
    "input x : [3]\n"
    "target y : [2]\n"
    "param u : [5, 7] = uniform(-1, 1)\n"
    "param v : [4] = uniform(0, 1e-30)\n"
    "param n : [2, 3] = normal(2, mean = 0.5)\n"
    "param k : [3] = [1, -2.5, 3]\n"
    "param c : [2] = 0.25\n"
    "h = tanh(dense(x, 4, init = kaiming))\n"
    "o = dense(h, 2) + 0.01 * sum(u) + sum(v) + 0.1 * sum(n) + sum(k * x) + sum(c)\n"
    "loss mse(o, y)\n"
    "output o\n"
    "optimizer adam(lr = 0.01)\n"
    "train { batch = 3\n seed = 9 }\n";

typedef struct {
  Arena *a;                       /* model and graphs */
  const Model *m;                 /* the checked model */
  Target t;                       /* the host */
  Planned *plan[2];               /* evaluation graph, train step */
  AbiLayout L;                    /* state layout */
  LLVMOrcLLJITRef jit;            /* the loaded module */
  int (*init)(void *, uint64_t);  /* t_init */
  int (*forward)(void *, const float *, int, float *);   /* t_forward */
  float (*train_step)(void *, const float *, const float *);   /* t_train_step */
  int (*get)(const void *, const char *, float *, size_t);     /* t_get */
  int (*set)(void *, const char *, const float *, size_t);     /* t_set */
  int (*load)(void *, const void *, size_t);                   /* t_load */
  int (*selftest)(void);                                       /* t_selftest */
  float test_x[9], test_out[6];   /* selftest data: zeros, so every output must count as wrong */
} Built;

static void *lookup(Built *b, const char *name) {
  LLVMOrcExecutorAddress addr = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(b->jit, &addr, name);
  ck_assert_msg(!e, "no symbol %s", name);
  return (void *)(uintptr_t)addr;
}

/* Plans both graphs, builds the ABI module and loads it. */
static void build(Built *b, const char *text) {
  memset(b, 0, sizeof *b);
  b->a = arena_new();
  b->m = compile_model(b->a, text);
  int B = b->m->train.batch;
  char err[512];
  ck_assert_msg(target_host(&b->t, err, sizeof err), "%s", err);
  b->plan[0] = pipeline_plan(pipeline_graph(b->m, b->a, PIPE_FORWARD, B, false), &b->t);
  b->plan[1] = pipeline_plan(pipeline_graph(b->m, b->a, PIPE_TRAIN, B, false), &b->t);
  abi_layout(&b->L, b->a, b->m, "t", B, b->plan[0]->sched, b->plan[1]->sched);
  ck_assert_int_le(b->L.x_floats, 9);
  ck_assert_int_le(b->L.out_floats, 6);
  AbiData d = {.test_x = b->test_x, .test_out = b->test_out, .test_seed = 9};
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef mod = abi_module(LLVMOrcThreadSafeContextGetContext(tsc), &b->L, &d);
  LLVMTargetMachineRef tm = target_machine(&b->t, true, err, sizeof err);
  ck_assert_msg(tm && codegen_optimize(mod, tm, 3, NULL, NULL, err, sizeof err), "%s", err);
  LLVMDisposeTargetMachine(tm);
  LLVMOrcJITTargetMachineBuilderRef jtmb;
  ck_assert(!LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb));
  LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb, jtmb);
  ck_assert(!LLVMOrcCreateLLJIT(&b->jit, jb));
  LLVMOrcDefinitionGeneratorRef gen;
  ck_assert(!LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(b->jit), NULL,
                                                                  NULL));
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(b->jit), gen);
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc);
  ck_assert(!LLVMOrcLLJITAddLLVMIRModule(b->jit, LLVMOrcLLJITGetMainJITDylib(b->jit), tsm));
  b->init = (int (*)(void *, uint64_t))lookup(b, "t_init");
  b->forward = (int (*)(void *, const float *, int, float *))lookup(b, "t_forward");
  b->train_step = (float (*)(void *, const float *, const float *))lookup(b, "t_train_step");
  b->get = (int (*)(const void *, const char *, float *, size_t))lookup(b, "t_get");
  b->set = (int (*)(void *, const char *, const float *, size_t))lookup(b, "t_set");
  b->load = (int (*)(void *, const void *, size_t))lookup(b, "t_load");
  b->selftest = (int (*)(void))lookup(b, "t_selftest");
}

static void unbuild(Built *b) {
  LLVMConsumeError(LLVMOrcDisposeLLJIT(b->jit));
  for (int i = 0; i < 2; i++) pipeline_plan_free(b->plan[i]);
  target_free(&b->t);
  arena_free(b->a);
}

static unsigned char *new_state(const AbiLayout *L) {
  unsigned char *s = aligned_alloc(ABI_ALIGN, (size_t)L->state_bytes);
  ck_assert_ptr_nonnull(s);
  memset(s, 0xA5, (size_t)L->state_bytes);
  return s;
}

START_TEST(init_matches_runtime) {
  Built b;
  build(&b, SRC);
  unsigned char *state = new_state(&b.L);
  ck_assert_int_eq(b.init(state, 12345), 0);
  ck_assert_int_eq(b.init(state + 4, 12345), -1);
  Rng rng;
  rng_seed(&rng, 12345);
  int kinds = 0;
  for (int i = 0; i < b.L.nslots; i++) {
    const AbiSlot *s = &b.L.slots[i];
    float *want = calloc((size_t)s->numel, sizeof(float));
    init_fill(&s->init, s->shape, want, &rng);
    ck_assert_msg(memcmp(want, state + s->offset, sizeof(float) * (size_t)s->numel) == 0,
                  "tensor %s (init kind %d) differs from init_fill", s->name, s->init.kind);
    kinds |= 1 << s->init.kind;
    free(want);
  }
  /* every initializer kind but xavier is in SRC; xavier is the dense default of o */
  ck_assert_int_eq(kinds, (1 << INIT_ZEROS) | (1 << INIT_CONST) | (1 << INIT_VALUES) | (1 << INIT_NORMAL) |
                              (1 << INIT_UNIFORM) | (1 << INIT_XAVIER) | (1 << INIT_KAIMING));
  for (int64_t e = b.L.tensor_bytes; e < b.L.state_bytes; e++) ck_assert_int_eq(state[e], 0);
  free(state);
  unbuild(&b);
}
END_TEST

START_TEST(layout_invariants) {
  Built b;
  build(&b, SRC);
  const AbiLayout *L = &b.L;
  /* `nnc train` order: the train step's PARAM/STATE leaves as its plan lists them */
  int k = 0;
  for (int i = 0; i < b.plan[1]->mp->nleaves; i++)
    if (b.plan[1]->mp->leaves[i]->op != OP_INPUT) ck_assert_str_eq(L->slots[k++].name, b.plan[1]->mp->leaves[i]->name);
  ck_assert_int_eq(k, L->nslots);
  int64_t end = 0;
  for (int i = 0; i < L->nslots; i++) {
    ck_assert_int_eq(L->slots[i].offset % ABI_ALIGN, 0);
    ck_assert_int_ge(L->slots[i].offset, end);
    end = L->slots[i].offset + L->slots[i].numel * 4;
  }
  ck_assert_int_le(end, L->tensor_bytes);
  ck_assert_int_eq(L->x_off, L->tensor_bytes);
  ck_assert_int_ge(L->y_off, L->x_off + L->x_floats * 4);
  ck_assert_int_ge(L->ws_off, L->y_off + L->y_floats * 4);
  int64_t offs[] = {L->x_off, L->y_off, L->ws_off, L->state_bytes};
  for (size_t i = 0; i < COUNT_OF(offs); i++) ck_assert_int_eq(offs[i] % ABI_ALIGN, 0);
  ck_assert_int_ge(L->ws_bytes, b.plan[0]->mp->workspace * 4);
  ck_assert_int_ge(L->ws_bytes, b.plan[1]->mp->workspace * 4);
  ck_assert_int_eq(L->x_floats, 9);
  ck_assert_int_eq(L->y_floats, 6);
  ck_assert_int_eq(L->out_floats, 6);
  unbuild(&b);
}
END_TEST

START_TEST(accessors_and_images) {
  Built b;
  build(&b, SRC);
  unsigned char *state = new_state(&b.L), *other = new_state(&b.L);
  ck_assert_int_eq(b.init(state, 1), 0);
  float k[3], w[3] = {7, 8, 9};
  ck_assert_int_eq(b.get(state, "k", k, 3), 0);
  ck_assert(k[0] == 1 && k[1] == -2.5f && k[2] == 3);
  ck_assert_int_eq(b.get(state, "k", k, 2), -1);
  ck_assert_int_eq(b.get(state, "kk", k, 3), -1);
  ck_assert_int_eq(b.set(state, "k", w, 3), 0);
  ck_assert_int_eq(b.get(state, "k", k, 3), 0);
  ck_assert(k[0] == 7 && k[2] == 9);
  /* an image of this state loads into another instance, and nothing else does */
  size_t bytes = ABI_IMAGE_HEADER + (size_t)b.L.tensor_bytes;
  unsigned char *img = malloc(bytes);
  abi_image_header(&b.L, img);
  memcpy(img + ABI_IMAGE_HEADER, state, (size_t)b.L.tensor_bytes);
  ck_assert_int_eq(b.init(other, 2), 0);
  ck_assert_int_eq(b.load(other, img, bytes - 1), -1);
  img[8] ^= 1;   /* layout hash */
  ck_assert_int_eq(b.load(other, img, bytes), -1);
  img[8] ^= 1;
  ck_assert_int_eq(b.load(other, img, bytes), 0);
  ck_assert_int_eq(memcmp(other, state, (size_t)b.L.tensor_bytes), 0);
  free(img);
  free(state);
  free(other);
  unbuild(&b);
}
END_TEST

/* forward and three train steps against jit.h on the same graphs and values */
START_TEST(entries_match_jit) {
  Built b;
  build(&b, SRC);
  const AbiLayout *L = &b.L;
  unsigned char *state = new_state(L), *ref = new_state(L);
  ck_assert_int_eq(b.init(state, 3), 0);
  memcpy(ref, state, (size_t)L->state_bytes);
  char err[512];
  JitGraph *j[2];
  for (int g = 0; g < 2; g++) {
    j[g] = jit_compile(b.plan[g]->g, NULL, err, sizeof err);
    ck_assert_msg(j[g] != NULL, "%s", err);
    for (int i = 0; i < jit_nleaves(j[g]); i++)
      jit_bind(j[g], i, (float *)(ref + abi_leaf_offset(L, jit_leaf(j[g], i))));
  }
  float x[9], y[6], out[6];
  for (int i = 0; i < 9; i++) x[i] = (float)(i % 4) * 0.3f - 0.4f;
  for (int i = 0; i < 6; i++) y[i] = (float)i * 0.2f;
  for (int step = 0; step < 3; step++) {
    memcpy(ref + L->x_off, x, sizeof x);
    memcpy(ref + L->y_off, y, sizeof y);
    jit_run(j[1]);
    float loss = b.train_step(state, x, y);
    ck_assert_msg(loss == jit_output(j[1], "loss")[0], "step %d: loss %.9g, jit %.9g", step, loss,
                  jit_output(j[1], "loss")[0]);
    ck_assert_int_eq(memcmp(state, ref, (size_t)L->tensor_bytes), 0);
  }
  jit_run(j[0]);
  ck_assert_int_eq(b.forward(state, x, 3, out), 0);
  ck_assert_int_eq(memcmp(out, jit_output(j[0], "output"), sizeof out), 0);
  /* a partial batch: the rows it has are the same */
  float part[2];
  ck_assert_int_eq(b.forward(state, x, 1, part), 0);
  ck_assert(part[0] == out[0] && part[1] == out[1]);
  ck_assert_int_eq(b.forward(state, x, 0, part), -1);
  ck_assert_int_eq(b.forward(state, x, 4, out), -1);
  ck_assert(isnan(b.train_step(state + 8, x, y)));
  for (int g = 0; g < 2; g++) jit_free(j[g]);
  free(state);
  free(ref);
  unbuild(&b);
}
END_TEST

/* The recorded output is compared, so a wrong one fails the selftest. */
START_TEST(selftest_detects_mismatch) {
  Built b;
  build(&b, SRC);
  ck_assert_int_eq(b.selftest(), 6);   /* test_out is all zeros: no output of a tanh net is */
  unbuild(&b);
}
END_TEST

/* Each kind of output, for the host and for aarch64. */
START_TEST(emits_each_kind) {
  Arena *a = arena_new();
  const Model *m = compile_model(a, SRC);
  char err[512];
  float zeros[16] = {0};
  AbiData d = {.test_x = zeros, .test_out = zeros};
  struct { const char *triple, *file; EmitKind kind; const char *expect; } cases[] = {
    {NULL, "t.o", EMIT_OBJECT, "\177ELF"}, {NULL, "t.s", EMIT_ASM, "t_train_step:"},
    {NULL, "t.ll", EMIT_LLVM, "@t_forward("}, {"aarch64-linux-gnu", "a.s", EMIT_ASM, "ret"},
  };
  for (size_t i = 0; i < COUNT_OF(cases); i++) {
    Target t;
    ck_assert(target_resolve(&t, cases[i].triple, NULL, NULL, err, sizeof err));
    /* kernels are planned and scheduled for the target they are emitted for */
    Planned *plan[2] = {pipeline_plan(pipeline_graph(m, a, PIPE_FORWARD, 3, false), &t),
                        pipeline_plan(pipeline_graph(m, a, PIPE_TRAIN, 3, false), &t)};
    AbiLayout L;
    abi_layout(&L, a, m, "t", 3, plan[0]->sched, plan[1]->sched);
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = abi_module(ctx, &L, &d);
    size_t len;
    char *text;
    ck_assert_msg(emit_module(mod, &t, cases[i].kind, &text, &len, err, sizeof err), "%s", err);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    for (int k = 0; k < 2; k++) pipeline_plan_free(plan[k]);
    target_free(&t);
    bool found = false;
    for (size_t k = 0; k + strlen(cases[i].expect) <= len && !found; k++)
      found = memcmp(text + k, cases[i].expect, strlen(cases[i].expect)) == 0;
    ck_assert_msg(found, "%s lacks '%s'", cases[i].file, cases[i].expect);
    free(text);
  }
  arena_free(a);
}
END_TEST

Suite *emit_suite(void) {
  Suite *s = suite_create("emit");
  TCase *abi = tcase_create("abi");
  tcase_set_timeout(abi, 60);
  tcase_add_test(abi, init_matches_runtime);
  tcase_add_test(abi, layout_invariants);
  tcase_add_test(abi, accessors_and_images);
  tcase_add_test(abi, entries_match_jit);
  tcase_add_test(abi, selftest_detects_mismatch);
  suite_add_tcase(s, abi);
  TCase *em = tcase_create("emit");
  tcase_set_timeout(em, 60);
  tcase_add_checked_fixture(em, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(em, emits_each_kind);
  suite_add_tcase(s, em);
  return s;
}
