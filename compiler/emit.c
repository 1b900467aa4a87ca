/* emit: optimize a module for a target and write it out (see emit.h).
 *
 * A target machine is made from the Target with PIC relocations, and the
 * module goes through the JIT's own optimization pipeline (codegen_optimize)
 * with that machine, so host and cross builds run the same passes with the
 * right data layout.
 */
#include "emit.h"

#include <llvm-c/TargetMachine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

bool emit_module(LLVMModuleRef mod, const Target *t, EmitKind kind, const char *path, char *err,
                 size_t errlen) {
  LLVMTargetMachineRef tm = target_machine(t, true, err, errlen);
  if (!tm) return false;
  bool ok = codegen_optimize(mod, tm, 3, NULL, NULL, err, errlen);
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
    LLVMSetTargetMachineAsmVerbosity(tm, 1);   /* block names and spill comments, for readers */
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
