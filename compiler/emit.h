/* emit: the second ending of the back end -- an LLVM module written to a
 * file (object code, assembly or textual IR) instead of being JIT-loaded.
 *
 * In: a module built by codegen_module (plus the ABI wrappers of abi.h) and
 * the resolved Target (target.h).  Out: the module optimized for that target,
 * as the bytes of a file.
 *
 * The module goes through codegen_optimize, the very pipeline the JIT uses,
 * with a target machine made from the same Target, so an object compiled for
 * the host runs the same instructions as `nnc train`.  Objects are position
 * independent, so they link into the default PIE executables of today's
 * toolchains.
 */
#ifndef NNC_EMIT_H
#define NNC_EMIT_H

#include <llvm-c/Core.h>
#include <stdbool.h>
#include <stddef.h>

#include "target.h"

typedef enum {
  EMIT_OBJECT,   /* relocatable object file (.o) */
  EMIT_ASM,      /* assembly text (.s) */
  EMIT_LLVM,     /* optimized LLVM IR text (.ll) */
} EmitKind;

/* Verifies, optimizes at -O3 for t and renders mod as `kind` into memory:
 * *out (heap, free it) holds *len bytes.  false + message in err.  Writing
 * the bytes is the caller's (outfile.h), so a write error is reported and
 * cleaned up by nnc, not ended by LLVM. */
bool emit_module(LLVMModuleRef mod, const Target *t, EmitKind kind, char **out, size_t *len, char *err,
                 size_t errlen);

#endif
