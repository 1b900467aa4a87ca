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

/* A heap copy of n bytes. */
static char *copy_bytes(const char *p, size_t n) {
  char *c = xmalloc(n ? n : 1);
  memcpy(c, p, n);
  return c;
}

bool emit_module(LLVMModuleRef mod, const Target *t, EmitKind kind, char **out, size_t *len, char *err,
                 size_t errlen) {
  *out = NULL;
  *len = 0;
  LLVMTargetMachineRef tm = target_machine(t, true, err, errlen);
  if (!tm) return false;
  bool ok = codegen_optimize(mod, tm, 3, NULL, NULL, err, errlen);
  if (ok && kind == EMIT_LLVM) {
    char *text = LLVMPrintModuleToString(mod);
    *len = strlen(text);
    *out = copy_bytes(text, *len);
    LLVMDisposeMessage(text);
  } else if (ok) {
    /* in memory, not to a file: LLVM's file streams end the process on a
     * write error, before nnc could report it or remove what it wrote */
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    LLVMSetTargetMachineAsmVerbosity(tm, 1);   /* block names and spill comments, for readers */
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind == EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile, &msg,
                                            &buf)) {
      snprintf(err, errlen, "cannot generate code: %s", msg ? msg : "");
      ok = false;
    } else {
      *len = LLVMGetBufferSize(buf);
      *out = copy_bytes(LLVMGetBufferStart(buf), *len);
      LLVMDisposeMemoryBuffer(buf);
    }
    LLVMDisposeMessage(msg);
  }
  LLVMDisposeTargetMachine(tm);
  return ok;
}
