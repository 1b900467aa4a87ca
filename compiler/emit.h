/* emit: the second ending of the back end -- an LLVM module written to a
 * file (object code, assembly or textual IR) instead of being JIT-loaded.
 *
 * In: a module built by codegen_module (plus the ABI wrappers of abi.h) and
 * a target (triple, CPU name, feature string; each NULL/empty for the
 * host's).  Out: the module optimized for that target and written to a file.
 *
 * For the host's architecture the module goes through codegen_optimize, the
 * very pipeline the JIT uses, so an object compiled for the host CPU runs the
 * same instructions as `nnc train`.  For another architecture the same pass
 * pipeline runs with a target machine of that triple (codegen_optimize only
 * knows the host's).  Objects are position independent, so they link into
 * the default PIE executables of today's toolchains.
 */
#ifndef NNC_EMIT_H
#define NNC_EMIT_H

#include <llvm-c/Core.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
  EMIT_OBJECT,   /* relocatable object file (.o) */
  EMIT_ASM,      /* assembly text (.s) */
  EMIT_LLVM,     /* optimized LLVM IR text (.ll) */
} EmitKind;

typedef struct {
  char *triple;      /* normalized target triple (heap, LLVM message) */
  char *cpu;         /* CPU name, "generic" or a real one (heap) */
  char *features;    /* feature string, "" when the CPU implies them (heap) */
  bool host_arch;    /* same architecture and data layout as the host */
  bool lp64_le;      /* 64-bit pointers, little endian (what abi.c's entry points assume) */
} EmitTarget;

/* Resolves a target: NULL triple = the host's; NULL cpu = the host's CPU and
 * features when the architecture is the host's, else "generic"; NULL
 * features = "" (what the CPU implies), except for the host CPU.  false +
 * message in err for an unknown triple. */
bool emit_target(EmitTarget *t, const char *triple, const char *cpu, const char *features, char *err,
                 size_t errlen);
void emit_target_free(EmitTarget *t);

/* Verifies, optimizes at -O3 for t and writes mod to path as `kind`.  false +
 * message in err (the file may then be missing or partial). */
bool emit_module(LLVMModuleRef mod, const EmitTarget *t, EmitKind kind, const char *path, char *err,
                 size_t errlen);

#endif
