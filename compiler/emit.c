/* emit: optimize a module for a target and write it out (see emit.h).
 *
 * A target machine is made from (triple, cpu, features) with PIC relocations,
 * and the module goes through the JIT's own optimization pipeline
 * (codegen_optimize_with) with that machine, so host and cross builds run the
 * same passes with the right data layout.
 */
#include "emit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen.h"

static LLVMTargetMachineRef make_machine(const char *triple, const char *cpu, const char *features, char *err,
                                         size_t errlen) {
  LLVMTargetRef target;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
    snprintf(err, errlen, "unknown target '%s': %s", triple, msg ? msg : "");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  return LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive, LLVMRelocPIC,
                                 LLVMCodeModelDefault);
}

/* LLVM only warns about a CPU or feature it does not know (on standard error,
 * when the machine's subtarget is made) and then generates code for a guess,
 * or aborts later.  So the machine is made once with standard error captured,
 * and a warning becomes a clean error. */
static bool known_cpu_and_features(const EmitTarget *t, char *err, size_t errlen) {
  FILE *capture = tmpfile();
  if (!capture) return true;   /* cannot check; LLVM's own warning still shows */
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fileno(capture), STDERR_FILENO);
  LLVMTargetMachineRef tm = make_machine(t->triple, t->cpu, t->features, err, errlen);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  if (tm) LLVMDisposeTargetMachine(tm);
  char text[512] = "";
  rewind(capture);
  size_t n = fread(text, 1, sizeof text - 1, capture);
  text[n] = 0;
  fclose(capture);
  if (!strstr(text, "not a recognized")) return true;
  text[strcspn(text, "\n")] = 0;
  char *ignoring = strstr(text, " (ignoring");   /* LLVM would carry on; nnc does not */
  if (ignoring) *ignoring = 0;
  snprintf(err, errlen, "%s %s", text, t->triple);
  return false;
}

/* The data layout string of a machine (heap). */
static char *layout_of(LLVMTargetMachineRef tm) {
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *s = LLVMCopyStringRepOfTargetData(td);
  LLVMDisposeTargetData(td);
  return s;
}

bool emit_target(EmitTarget *t, const char *triple, const char *cpu, const char *features, char *err,
                 size_t errlen) {
  *t = (EmitTarget){0};
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
  char *host = LLVMGetDefaultTargetTriple();
  t->triple = triple ? LLVMNormalizeTargetTriple(triple) : LLVMNormalizeTargetTriple(host);
  LLVMTargetMachineRef host_tm = make_machine(host, "generic", "", err, errlen);
  LLVMTargetMachineRef tm = make_machine(t->triple, "generic", "", err, errlen);
  bool ok = host_tm && tm;
  if (ok) {
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    t->lp64_le = LLVMPointerSize(td) == 8 && LLVMByteOrder(td) == LLVMLittleEndian;
    LLVMDisposeTargetData(td);
    char *a = layout_of(host_tm), *b = layout_of(tm);
    size_t arch = strcspn(host, "-");
    t->host_arch = strcmp(a, b) == 0 && strncmp(host, t->triple, arch) == 0 && t->triple[arch] == '-';
    LLVMDisposeMessage(a);
    LLVMDisposeMessage(b);
  }
  if (host_tm) LLVMDisposeTargetMachine(host_tm);
  if (tm) LLVMDisposeTargetMachine(tm);
  LLVMDisposeMessage(host);
  if (!ok) {
    emit_target_free(t);
    return false;
  }
  bool host_cpu = !cpu && t->host_arch;
  t->cpu = host_cpu ? LLVMGetHostCPUName() : LLVMCreateMessage(cpu ? cpu : "generic");
  t->features = features ? LLVMCreateMessage(features) : host_cpu ? LLVMGetHostCPUFeatures() : LLVMCreateMessage("");
  if ((cpu || features) && !known_cpu_and_features(t, err, errlen)) {
    emit_target_free(t);
    return false;
  }
  return true;
}

void emit_target_free(EmitTarget *t) {
  LLVMDisposeMessage(t->triple);
  LLVMDisposeMessage(t->cpu);
  LLVMDisposeMessage(t->features);
  *t = (EmitTarget){0};
}

bool emit_module(LLVMModuleRef mod, const EmitTarget *t, EmitKind kind, const char *path, char *err,
                 size_t errlen) {
  LLVMTargetMachineRef tm = make_machine(t->triple, t->cpu, t->features, err, errlen);
  if (!tm) return false;
  bool ok = codegen_optimize_with(mod, tm, 3, NULL, NULL, err, errlen);
  if (ok && kind == EMIT_LLVM) {
    char *msg = NULL;
    if (LLVMPrintModuleToFile(mod, path, &msg)) {
      snprintf(err, errlen, "cannot write %s: %s", path, msg ? msg : "");
      ok = false;
    }
    LLVMDisposeMessage(msg);
  } else if (ok) {
    char *msg = NULL;
    /* the C API takes a mutable file name */
    char *file = xstrdup(path);
    if (LLVMTargetMachineEmitToFile(tm, mod, file, kind == EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile, &msg)) {
      snprintf(err, errlen, "cannot write %s: %s", path, msg ? msg : "");
      ok = false;
    }
    free(file);
    LLVMDisposeMessage(msg);
  }
  LLVMDisposeTargetMachine(tm);
  return ok;
}
