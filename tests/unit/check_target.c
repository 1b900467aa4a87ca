/* Tests of the target model (target.c) and of the code generated for each
 * family, emitted whatever the host is:
 *  - every family resolves to its vector width, register file and tile, and
 *    says whether this host can run it;
 *  - the probe agrees with the host's own feature list;
 *  - impossible and unknown targets are refused with LLVM's reason;
 *  - an MLP train step (Adam fused into the weight-gradient products) has
 *    the family's vector width in its optimized IR and assembly, and no
 *    stack spill inside any micro-kernel's k loop.
 * Whether the JIT's results equal the evaluator for each family the host
 * can run is in check_codegen.c.
 */
#define _POSIX_C_SOURCE 200809L   /* open_memstream */
#include <check.h>
#include <llvm-c/Core.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "pipeline.h"
#include "target.h"
#include "testutil.h"

typedef struct {
  const char *triple, *cpu;   /* how it is asked for */
  TargetFamily family;        /* what it must resolve to */
  int vw, regs, rows;         /* floats per vector, registers, tile rows */
  const char *reg;            /* a register name its vector code uses */
} Family;

static const Family families[] = {
  {"x86_64-linux-gnu", "x86-64-v4", FAMILY_AVX512, 16, 32, 8, "zmm"},
  {"x86_64-linux-gnu", "x86-64-v3", FAMILY_AVX2, 8, 16, 5, "ymm"},
  {"x86_64-linux-gnu", "x86-64", FAMILY_SSE2, 4, 16, 4, "xmm"},
  {"aarch64-linux-gnu", NULL, FAMILY_NEON, 4, 32, 8, ".4s"},
  {"arm64-linux-gnu", NULL, FAMILY_NEON, 4, 32, 8, ".4s"},   /* LLVM's other spelling */
};

static Target resolve(const Family *f) {
  Target t;
  char err[1024];
  ck_assert_msg(target_resolve(&t, f->triple, f->cpu, NULL, err, sizeof err), "%s: %s", f->cpu, err);
  return t;
}

START_TEST(families_resolve) {
  Target host;
  char err[1024];
  ck_assert_msg(target_host(&host, err, sizeof err), "%s", err);
  for (size_t i = 0; i < COUNT_OF(families); i++) {
    const Family *f = &families[i];
    Target t = resolve(f);
    ck_assert_int_eq(t.family, f->family);
    ck_assert_int_eq(t.vector_floats, f->vw);
    ck_assert_int_eq(t.vector_regs, f->regs);
    ck_assert_int_eq(t.tile_rows, f->rows);
    ck_assert_int_eq(t.tile_vectors, TILE_VECTORS);
    ck_assert(t.lp64_le);
    /* accumulators, B vectors, the broadcast and a temporary without FMA fit the register file */
    ck_assert_int_le(t.tile_rows * t.tile_vectors + t.tile_vectors + 1 + (t.fma ? 0 : NO_FMA_TEMPS) + TILE_RESERVE,
                     t.vector_regs);
    ck_assert_int_eq(t.align % (4 * t.vector_floats), 0);
    bool same_arch = strncmp(host.triple, t.triple, strcspn(host.triple, "-")) == 0;
    ck_assert_msg(t.host == (same_arch && host.family <= t.family), "%s: runs here = %d", f->cpu ? f->cpu : f->triple,
                  t.host);
    target_free(&t);
  }
  target_free(&host);
}
END_TEST

/* Resolving the host's own CPU and features through the probe gives the
 * family read off its feature list. */
START_TEST(probe_agrees_with_host) {
  Target host, probed;
  char err[1024];
  ck_assert_msg(target_host(&host, err, sizeof err), "%s", err);
  ck_assert_msg(target_resolve(&probed, host.triple, host.cpu, host.features, err, sizeof err), "%s", err);
  ck_assert_int_eq(probed.family, host.family);
  ck_assert_int_eq(probed.vector_floats, host.vector_floats);
  ck_assert(probed.host);
  target_free(&probed);
  target_free(&host);
}
END_TEST

static void refused(const char *triple, const char *cpu, const char *features, const char *why) {
  Target t;
  char err[1024] = "";
  ck_assert_msg(!target_resolve(&t, triple, cpu, features, err, sizeof err), "%s/%s/%s accepted", triple, cpu,
                features);
  ck_assert_msg(strstr(err, why) != NULL, "message '%s' lacks '%s'", err, why);
}

START_TEST(refusals) {
  refused("x86_64-linux-gnu", "i686", NULL, "64-bit code");
  refused("x86_64-linux-gnu", "pentium2", NULL, "64-bit code");
  refused("x86_64-linux-gnu", "x86-64", "-sse2", "SSE2");
  refused("x86_64-linux-gnu", "nosuchcpu", NULL, "not a recognized processor");
  refused("x86_64-linux-gnu", "x86-64", "+nosuchfeature", "not a recognized feature");
  refused("nosuch-arch-linux", NULL, NULL, "unknown target");
  Target t;
  char err[1024];
  ck_assert_msg(target_resolve(&t, "s390x-linux-gnu", NULL, NULL, err, sizeof err), "%s", err);
  ck_assert(!t.lp64_le && !t.host);
  ck_assert_int_eq(t.family, FAMILY_GENERIC);
  target_free(&t);
}
END_TEST

/* ---- generated code per family ---- */

static const char MLP[] = "input x : [784]\ntarget y : class(10)\n"
                          "h1 = relu(dense(x, 256))\nh2 = relu(dense(h1, 128))\nlogits = dense(h2, 10)\n"
                          "loss cross_entropy(logits, y)\noptimizer adam(lr = 0.001)\n"
                          "train { batch = 64 }\n";

typedef struct {
  char *ir;    /* optimized LLVM IR */
  char *asm_;  /* assembly */
} Emitted;

static Emitted emit_train_step(const Target *t) {
  Arena *a = arena_new();
  const Model *m = compile_model(a, MLP);
  Planned *p = pipeline_plan(pipeline_graph(m, a, PIPE_TRAIN, 64, false), t);
  char err[1024];
  LLVMTargetMachineRef tm = target_machine(t, true, err, sizeof err);
  ck_assert_msg(tm != NULL, "%s", err);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = codegen_module(ctx, p->sched, "entry", false);
  Emitted e = {0};
  size_t len = 0;
  FILE *f = open_memstream(&e.ir, &len);
  ck_assert_msg(codegen_optimize(mod, tm, 3, NULL, f, err, sizeof err), "%s", err);
  fclose(f);
  LLVMMemoryBufferRef buf;
  char *msg = NULL;
  LLVMSetTargetMachineAsmVerbosity(tm, 1);   /* block names and spill comments */
  ck_assert_msg(!LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &msg, &buf), "%s", msg);
  size_t n = LLVMGetBufferSize(buf);
  e.asm_ = malloc(n + 1);
  memcpy(e.asm_, LLVMGetBufferStart(buf), n);
  e.asm_[n] = 0;
  LLVMDisposeMemoryBuffer(buf);
  LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  pipeline_plan_free(p);
  arena_free(a);
  return e;
}

/* Lines of every k loop (blocks LLVM marks "%kloop") that spill or reload
 * a register; *loops gets how many k loops there are. */
static int kloop_spills(const char *text, int *loops, char *first, size_t len) {
  int spills = 0;
  bool inside = false;
  *loops = 0;
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char l[256];
    snprintf(l, sizeof l, "%.*s", (int)(n < 255 ? n : 255), line);
    if (l[0] && l[0] != ' ' && l[0] != '\t' && strchr(l, ':')) {   /* a label starts a block */
      const char *name = strstr(l, "%kloop");
      inside = name && !strstr(name, "preheader");
      *loops += inside;
    } else if (inside && (strstr(l, "Spill") || strstr(l, "Reload")) && spills++ == 0) {
      snprintf(first, len, "%s", l);
    }
    line += n + (end != NULL);
  }
  return spills;
}

START_TEST(train_step_per_family) {
  const Family *f = &families[_i];
  Target t = resolve(f);
  Emitted e = emit_train_step(&t);
  char want[32];
  snprintf(want, sizeof want, "<%d x float>", f->vw);
  ck_assert_msg(strstr(e.ir, want), "%s: no %s in the optimized IR", t.cpu, want);
  ck_assert_msg(strstr(e.asm_, f->reg), "%s: no %s registers in the assembly", t.cpu, f->reg);
  if (f->family == FAMILY_AVX2) ck_assert_msg(!strstr(e.asm_, "zmm"), "avx2 code uses zmm registers");
  if (f->family == FAMILY_SSE2) ck_assert_msg(!strstr(e.asm_, "ymm"), "sse2 code uses ymm registers");
  int loops;
  char first[256] = "";
  int spills = kloop_spills(e.asm_, &loops, first, sizeof first);
  ck_assert_msg(loops >= 6, "%s: only %d micro-kernel loops found", t.cpu, loops);
  ck_assert_msg(spills == 0, "%s: %d spills or reloads in micro-kernel loops, first: %s", t.cpu, spills, first);
  free(e.ir);
  free(e.asm_);
  target_free(&t);
}
END_TEST

Suite *target_suite(void) {
  Suite *s = suite_create("target");
  TCase *tc = tcase_create("resolve");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, families_resolve);
  tcase_add_test(tc, probe_agrees_with_host);
  tcase_add_test(tc, refusals);
  suite_add_tcase(s, tc);
  TCase *code = tcase_create("code");
  tcase_set_timeout(code, 120);
  tcase_add_loop_test(code, train_step_per_family, 0, (int)COUNT_OF(families));
  suite_add_tcase(s, code);
  return s;
}
