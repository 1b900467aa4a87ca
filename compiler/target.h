/* target: the one description of the machine code nnc generates.
 *
 * Resolved once -- from the host for the JIT, or from --target/--cpu/--features
 * for `nnc compile` -- and passed down to fusion, the memory plan, the schedule
 * and code generation.  No other file knows a vector width, a register count,
 * an alignment or a micro-kernel tile.
 *
 * What LLVM will generate for a (triple, cpu, features) is not in its C API,
 * so for anything but the host nnc asks it: a probe function (a 16-float fma)
 * is compiled to assembly in a child process, and the registers and
 * instructions it uses name the family.  The child also shields nnc from
 * LLVM's aborts on impossible combinations (a 32-bit CPU for a 64-bit triple)
 * and turns its warnings about unknown CPUs and features into errors.  The
 * host's features are explicit in LLVMGetHostCPUFeatures, so the JIT's target
 * is resolved without a probe.
 *
 * The micro-kernel tile is derived from the register file (docs/backend.md):
 * TILE_VECTORS vectors per row, and as many rows as fit beside them, a
 * broadcast register, two temporaries where there is no FMA (the product,
 * and a copy of the broadcast that SSE's two-operand multiply destroys) and
 * a small reserve for loop constants, capped at TILE_MAX_ROWS.
 */
#ifndef NNC_TARGET_H
#define NNC_TARGET_H

#include <llvm-c/TargetMachine.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
  FAMILY_AVX512,    /* x86-64, 512-bit vectors, 32 registers, FMA */
  FAMILY_AVX2,      /* x86-64, 256-bit vectors, 16 registers, FMA */
  FAMILY_AVX,       /* x86-64, 256-bit vectors, 16 registers, no FMA */
  FAMILY_SSE2,      /* baseline x86-64, 128-bit vectors, 16 registers, no FMA */
  FAMILY_NEON,      /* AArch64 Advanced SIMD, 128-bit vectors, 32 registers, FMA */
  FAMILY_GENERIC,   /* any other architecture: portable code, not tuned */
} TargetFamily;

enum {
  TILE_VECTORS = 2,    /* vectors per micro-kernel row */
  TILE_MAX_ROWS = 8,   /* rows beyond this add little and grow edge tiles */
  TILE_RESERVE = 2,    /* registers left for addresses and loop constants */
  NO_FMA_TEMPS = 2,    /* without FMA: the product and a copy of the broadcast */
};

typedef struct {
  char *triple;          /* normalized triple (heap) */
  char *cpu;             /* CPU name given to LLVM (heap) */
  char *features;        /* feature string given to LLVM, "" = what the CPU implies (heap) */
  TargetFamily family;   /* what the probe (or the host's features) showed */
  int vector_floats;     /* floats per vector register */
  int vector_regs;       /* architectural vector registers */
  bool fma;              /* fused multiply-add instructions */
  bool masked_loads;     /* vector loads under a lane mask (AVX and later; SSE2 and NEON have none) */
  int align;             /* bytes: every buffer the plan lays out, at least one vector and a cache line */
  int l2_bytes;          /* a core's L2 cache, typical of the family's usual cores */
  int tile_rows;         /* micro-kernel rows */
  int tile_vectors;      /* micro-kernel vectors per row */
  bool host;             /* the machine nnc runs on can execute this code (JIT) */
  bool lp64_le;          /* 64-bit pointers, little endian (what the object ABI assumes) */
} Target;

/* The host: its triple, CPU name and features (no probe). */
bool target_host(Target *t, char *err, size_t errlen);
/* NULL triple = the host's; NULL cpu = the host's CPU and features when the
 * architecture is the host's, else "generic"; NULL features = "" (what the CPU
 * implies) except for the host CPU.  false + message for an unknown triple,
 * an unknown CPU or feature, or a combination LLVM cannot generate code for. */
bool target_resolve(Target *t, const char *triple, const char *cpu, const char *features, char *err,
                    size_t errlen);
void target_free(Target *t);

/* A target machine for t (PIC relocations when pic, else the JIT's defaults). */
LLVMTargetMachineRef target_machine(const Target *t, bool pic, char *err, size_t errlen);

/* Floats of the micro-kernel's tile columns: tile_vectors * vector_floats. */
int target_tile_cols(const Target *t);
/* Short family name ("avx512", "avx2", ...). */
const char *target_family_name(TargetFamily f);
/* What `nnc target` prints. */
void target_print(FILE *out, const Target *t);

#endif
