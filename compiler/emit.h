/* emit: the second ending of the back end -- an LLVM module written to a
 * file (object code, assembly or textual IR) instead of being JIT-loaded.
 *
 * In: a module built by codegen_module (plus the ABI wrappers of abi.h) and
 * the resolved Target (target.h).  Out: the module optimized for that target
 * and written to a file.
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

/* Verifies, optimizes at -O3 for t and writes mod to path as `kind`.  false +
 * message in err (the file may then be missing or partial). */
bool emit_module(LLVMModuleRef mod, const Target *t, EmitKind kind, const char *path, char *err,
                 size_t errlen);

#endif
