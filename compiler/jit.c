/* jit: fuse, plan, generate, optimize and load a graph (see jit.h).
 *
 * One LLJIT per compiled graph, so freeing a JitGraph releases its code.  The
 * optimization pipeline (codegen_optimize) and the JIT use the same target:
 * the host's CPU name and feature string for the pass pipeline's target
 * machine and on every function, and a JIT target machine builder detected
 * from the host, so the vectorizer and the code generator agree on the vector
 * width.  libm symbols the module calls are resolved from the running process.
 */
#include "jit.h"

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

struct JitGraph {
  const IrGraph *g;                     /* the graph compiled */
  FusePlan *fp;                         /* its kernels */
  MemPlan *mp;                          /* its memory plan */
  LLVMOrcLLJITRef jit;                  /* owns the code */
  void (*entry)(float **, float *);     /* the generated step */
  float **leaves;                       /* bound leaf buffers, mp->nleaves */
  float *workspace;                     /* mp->workspace floats, 64-byte aligned */
};

static const char ENTRY[] = "nnc_entry";

/* Copies an LLVM error into err and consumes it; returns NULL for chaining. */
static void *llvm_fail(LLVMErrorRef e, const char *what, char *err, size_t errlen) {
  char *msg = LLVMGetErrorMessage(e);
  snprintf(err, errlen, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  return NULL;
}

static LLVMOrcLLJITRef make_jit(char *err, size_t errlen) {
  LLVMOrcJITTargetMachineBuilderRef jtmb;
  LLVMErrorRef e = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb);
  if (e) return llvm_fail(e, "cannot detect the host", err, errlen);
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
  LLVMOrcLLJITRef jit;
  if ((e = LLVMOrcCreateLLJIT(&jit, builder))) return llvm_fail(e, "cannot create the JIT", err, errlen);
  LLVMOrcDefinitionGeneratorRef gen;
  if ((e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL))) {
    LLVMConsumeError(LLVMOrcDisposeLLJIT(jit));
    return llvm_fail(e, "cannot search the process for symbols", err, errlen);
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), gen);
  return jit;
}

JitGraph *jit_compile(const IrGraph *g, const JitOptions *options, char *err, size_t errlen) {
  JitOptions opt = options ? *options : (JitOptions){3, NULL, NULL};
  if (opt.opt_level < 0 || opt.opt_level > 3) opt.opt_level = 3;
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  JitGraph *j = xcalloc(1, sizeof *j);
  j->g = g;
  j->fp = fuse_graph(g);
  j->mp = plan_memory(j->fp, codegen_scratch);
  char *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef mod = codegen_module(LLVMOrcThreadSafeContextGetContext(tsc), j->mp, ENTRY, cpu, features);
  bool ok = codegen_optimize(mod, opt.opt_level, cpu, features, opt.dump_before, opt.dump_after, err, errlen);
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);
  if (ok) j->jit = make_jit(err, errlen);
  if (!j->jit) {
    LLVMDisposeModule(mod);
    LLVMOrcDisposeThreadSafeContext(tsc);
    jit_free(j);
    return NULL;
  }
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc);
  LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm);
  LLVMOrcExecutorAddress addr = 0;
  if (e) {
    LLVMOrcDisposeThreadSafeModule(tsm);
  } else {
    e = LLVMOrcLLJITLookup(j->jit, &addr, ENTRY);
  }
  if (e) {
    llvm_fail(e, "cannot load the generated code", err, errlen);
    jit_free(j);
    return NULL;
  }
  j->entry = (void (*)(float **, float *))(uintptr_t)addr;
  j->leaves = xcalloc((size_t)j->mp->nleaves + 1, sizeof(float *));
  size_t bytes = ((size_t)j->mp->workspace * sizeof(float) + 63) / 64 * 64 + 64;
  j->workspace = aligned_alloc(64, bytes);
  if (!j->workspace) die("out of memory for a %zu-byte workspace", bytes);
  memset(j->workspace, 0, bytes);
  return j;
}

int jit_nleaves(const JitGraph *j) { return j->mp->nleaves; }

const IrNode *jit_leaf(const JitGraph *j, int i) {
  if (i < 0 || i >= j->mp->nleaves) die("jit_leaf: no leaf %d", i);
  return j->mp->leaves[i];
}

void jit_bind(JitGraph *j, int i, float *buf) {
  if (i < 0 || i >= j->mp->nleaves) die("jit_bind: no leaf %d", i);
  j->leaves[i] = buf;
}

void jit_run(JitGraph *j) {
  for (int i = 0; i < j->mp->nleaves; i++)
    if (!j->leaves[i]) die("jit_run: leaf %s is not bound", j->mp->leaves[i]->name);
  j->entry(j->leaves, j->workspace);
}

const float *jit_output(const JitGraph *j, const char *name) {
  for (int i = 0; i < j->g->outputs.len; i++) {
    const IrOutput *o = j->g->outputs.items[i];
    if (strcmp(o->name, name) != 0) continue;
    const PlanBuf *pb = &j->mp->bufs[j->mp->output_buf[i]];
    return pb->leaf >= 0 ? j->leaves[pb->leaf] : j->workspace + pb->offset;
  }
  return NULL;
}

void jit_print_kernels(FILE *out, const JitGraph *j) { fuse_print(out, j->fp); }

long long jit_workspace_floats(const JitGraph *j) { return (long long)j->mp->workspace; }

void jit_free(JitGraph *j) {
  if (!j) return;
  if (j->jit) LLVMConsumeError(LLVMOrcDisposeLLJIT(j->jit));
  free(j->workspace);
  free(j->leaves);
  plan_free(j->mp);
  fuse_free(j->fp);
  free(j);
}
