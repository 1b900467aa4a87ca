/* target: resolving what machine code to generate (see target.h). */
#include "target.h"

#include <errno.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

typedef struct {
  const char *name;      /* short name */
  const char *what;      /* one line for `nnc target` */
  int vector_floats;     /* floats per vector register */
  int vector_regs;       /* architectural vector registers */
  bool fma;              /* fused multiply-add */
  bool masked_loads;     /* vector loads under a lane mask (else LLVM splits them lane by lane) */
  int l2_kib;            /* a core's L2 cache, typical of the family's usual cores */
} FamilyInfo;

/* L2: AMD Zen 4 and 5 and Intel's AVX-512 server cores have 1-2 MiB a core;
 * Zen 2 and 3 and most AVX2 cores 512 KiB (some Intel client cores 256);
 * AArch64 server cores (Neoverse N1, V1) 1 MiB, small cores 256-512. */
static const FamilyInfo families[] = {
  [FAMILY_AVX512] = {"avx512", "x86-64 with AVX-512", 16, 32, true, true, 1024},
  [FAMILY_AVX2] = {"avx2", "x86-64 with AVX2 and FMA", 8, 16, true, true, 512},
  [FAMILY_AVX] = {"avx", "x86-64 with AVX, no FMA", 8, 16, false, true, 256},
  [FAMILY_SSE2] = {"sse2", "baseline x86-64 (SSE2)", 4, 16, false, false, 256},
  [FAMILY_NEON] = {"neon", "AArch64 Advanced SIMD", 4, 32, true, false, 512},
  [FAMILY_GENERIC] = {"generic", "portable code for an architecture nnc has no tuning for", 4, 16, false, false, 256},
};

const char *target_family_name(TargetFamily f) { return families[f].name; }

int target_tile_cols(const Target *t) { return t->tile_vectors * t->vector_floats; }

static void register_targets(void) {
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
}

static void init_targets(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_targets);
}

static bool is_arch(const char *triple, const char *arch) {
  size_t n = strlen(arch);
  return strncmp(triple, arch, n) == 0 && triple[n] == '-';
}

/* LLVM spells AArch64 both ways (arm64 on Apple's triples). */
static bool is_aarch64(const char *triple) { return is_arch(triple, "aarch64") || is_arch(triple, "arm64"); }

/* Fills the fields that follow from the family. */
static void set_family(Target *t, TargetFamily f) {
  const FamilyInfo *fi = &families[f];
  t->family = f;
  t->vector_floats = fi->vector_floats;
  t->vector_regs = fi->vector_regs;
  t->fma = fi->fma;
  t->masked_loads = fi->masked_loads;
  t->l2_bytes = fi->l2_kib * 1024;
  int bytes = 4 * t->vector_floats;
  t->align = bytes > 64 ? bytes : 64;
  t->tile_vectors = TILE_VECTORS;
  int rows = (t->vector_regs - TILE_RESERVE - TILE_VECTORS - 1 - (t->fma ? 0 : NO_FMA_TEMPS)) / TILE_VECTORS;
  t->tile_rows = rows < TILE_MAX_ROWS ? rows : TILE_MAX_ROWS;
}

/* Whether the comma-separated list enables feature `name` (whole entries:
 * "+fma" is not "+fma4"). */
static bool enables(const char *features, const char *name) {
  size_t n = strlen(name);
  for (const char *p = features; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (p[0] == '+' && strncmp(p + 1, name, n) == 0 && (p[1 + n] == ',' || p[1 + n] == '\0')) return true;
  return false;
}

/* The family the host's own feature list implies. */
static TargetFamily family_of_features(const char *triple, const char *features) {
  if (is_aarch64(triple)) return FAMILY_NEON;
  if (!is_arch(triple, "x86_64")) return FAMILY_GENERIC;
  if (enables(features, "avx512f")) return FAMILY_AVX512;
  if (enables(features, "avx2") && enables(features, "fma")) return FAMILY_AVX2;
  if (enables(features, "avx")) return FAMILY_AVX;
  return FAMILY_SSE2;
}

LLVMTargetMachineRef target_machine(const Target *t, bool pic, char *err, size_t errlen) {
  LLVMTargetRef target;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(t->triple, &target, &msg)) {
    snprintf(err, errlen, "unknown target '%s': %s", t->triple, msg ? msg : "");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  return LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, LLVMCodeGenLevelAggressive,
                                 pic ? LLVMRelocPIC : LLVMRelocDefault,
                                 pic ? LLVMCodeModelDefault : LLVMCodeModelJITDefault);
}

static bool layout_and_host_arch(Target *t, const char *host, char *err, size_t errlen) {
  Target h = {.triple = (char *)host, .cpu = "generic", .features = ""};
  Target g = {.triple = t->triple, .cpu = "generic", .features = ""};
  LLVMTargetMachineRef host_tm = target_machine(&h, true, err, errlen);
  LLVMTargetMachineRef tm = host_tm ? target_machine(&g, true, err, errlen) : NULL;
  bool ok = host_tm && tm;
  if (ok) {
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm), hd = LLVMCreateTargetDataLayout(host_tm);
    t->lp64_le = LLVMPointerSize(td) == 8 && LLVMByteOrder(td) == LLVMLittleEndian;
    char *a = LLVMCopyStringRepOfTargetData(hd), *b = LLVMCopyStringRepOfTargetData(td);
    size_t arch = strcspn(host, "-");
    t->host = strcmp(a, b) == 0 && strncmp(host, t->triple, arch) == 0 && t->triple[arch] == '-';
    LLVMDisposeMessage(a);
    LLVMDisposeMessage(b);
    LLVMDisposeTargetData(td);
    LLVMDisposeTargetData(hd);
  }
  if (host_tm) LLVMDisposeTargetMachine(host_tm);
  if (tm) LLVMDisposeTargetMachine(tm);
  return ok;
}

bool target_host(Target *t, char *err, size_t errlen) {
  *t = (Target){0};
  init_targets();
  t->triple = LLVMGetDefaultTargetTriple();
  t->cpu = LLVMGetHostCPUName();
  t->features = LLVMGetHostCPUFeatures();
  if (!layout_and_host_arch(t, t->triple, err, errlen)) {
    target_free(t);
    return false;
  }
  set_family(t, family_of_features(t->triple, t->features));
  return true;
}

/* ---- the probe ---- */

/* The module: one function computing a 16-float fma in memory and returning
 * a double (so the calling convention's SSE2 registers are exercised too),
 * tagged as the code generator tags its kernels. */
static LLVMModuleRef probe_module(LLVMContextRef ctx, const Target *t) {
  LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("probe", ctx);
  LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx), vec = LLVMVectorType(f32, 16);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0), i64 = LLVMInt64TypeInContext(ctx);
  LLVMTypeRef f64 = LLVMDoubleTypeInContext(ctx);
  LLVMValueRef fn = LLVMAddFunction(mod, "probe", LLVMFunctionType(f64, &ptr, 1, 0));
  const char *attrs[][2] = {{"target-cpu", t->cpu}, {"target-features", t->features}, {"prefer-vector-width", "512"}};
  for (size_t i = 0; i < COUNT_OF(attrs); i++)
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(ctx, attrs[i][0], (unsigned)strlen(attrs[i][0]), attrs[i][1],
                                                      (unsigned)strlen(attrs[i][1])));
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
  LLVMValueRef p = LLVMGetParam(fn, 0), v[3];
  for (int i = 0; i < 3; i++) {
    LLVMValueRef off = LLVMConstInt(i64, (unsigned long long)(16 * i), 0);
    v[i] = LLVMBuildLoad2(b, vec, LLVMBuildGEP2(b, f32, p, &off, 1, ""), "");
  }
  unsigned id = LLVMLookupIntrinsicID("llvm.fma", 8);
  LLVMValueRef fma = LLVMGetIntrinsicDeclaration(mod, id, &vec, 1);
  LLVMValueRef r = LLVMBuildCall2(b, LLVMIntrinsicGetType(ctx, id, &vec, 1), fma, v, 3, "");
  LLVMBuildStore(b, r, p);
  LLVMBuildRet(b, LLVMBuildFPExt(b, LLVMBuildExtractElement(b, r, LLVMConstInt(i64, 0, 0), ""), f64, ""));
  LLVMDisposeBuilder(b);
  return mod;
}

static void probe_diagnostic(LLVMDiagnosticInfoRef info, void *ctx) {
  (void)ctx;
  if (LLVMGetDiagInfoSeverity(info) != LLVMDSError) return;
  char *d = LLVMGetDiagInfoDescription(info);
  fprintf(stderr, "error: %s\n", d);
  LLVMDisposeMessage(d);
  exit(1);
}

/* In the child: compiles the probe and prints its assembly's vector
 * registers and FMA use as "PROBE bits=N fma=0|1"; LLVM's own messages go
 * to the same pipe. */
static NORETURN void probe_child(const Target *t) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMContextSetDiagnosticHandler(ctx, probe_diagnostic, NULL);
  char err[512];
  LLVMTargetMachineRef tm = target_machine(t, true, err, sizeof err);
  if (!tm) {
    fprintf(stderr, "error: %s\n", err);
    exit(1);
  }
  LLVMModuleRef mod = probe_module(ctx, t);
  LLVMMemoryBufferRef buf = NULL;
  char *msg = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &msg, &buf)) {
    fprintf(stderr, "error: %s\n", msg ? msg : "no code");
    exit(1);
  }
  size_t n = LLVMGetBufferSize(buf);
  char *s = xmalloc(n + 1);
  memcpy(s, LLVMGetBufferStart(buf), n);
  s[n] = 0;
  int bits = strstr(s, "zmm") ? 512 : strstr(s, "ymm") ? 256 : strstr(s, "xmm") || strstr(s, ".4s") ? 128 : 0;
  bool fma = strstr(s, "vfmadd") || strstr(s, "fmla") || strstr(s, "fmadd");
  fflush(stderr);
  printf("PROBE bits=%d fma=%d\n", bits, fma);
  fflush(stdout);
  _exit(0);
}

/* What to write instead, for the x86-64 refusals users meet. */
static const char *probe_hint(const char *msg) {
  if (strstr(msg, "64-bit code requested"))
    return "; that CPU is 32-bit: for x86-64 give --cpu x86-64 (any x86-64), x86-64-v2, x86-64-v3 (AVX2 + FMA), "
           "x86-64-v4 (AVX-512) or a 64-bit CPU's name (znver3, skylake-avx512)";
  if (strstr(msg, "SSE register return") || strstr(msg, "SSE2 register return"))
    return "; every x86-64 CPU has SSE and SSE2 and the x86-64 calling convention returns floats in their "
           "registers: leave them on (--cpu x86-64 is the smallest target)";
  if (strstr(msg, "not a recognized processor"))
    return "; give a name as clang's -march takes it: x86-64, x86-64-v2, x86-64-v3, x86-64-v4, znver3, znver4, "
           "skylake-avx512, ... (`nnc target` prints this machine's)";
  return "";
}

/* Runs the probe in a child; fills *bits and *fma, or false + LLVM's words. */
static bool run_probe(const Target *t, int *bits, bool *fma, char *err, size_t errlen) {
  int fd[2];
  if (pipe(fd) != 0) return errorf(err, errlen, "cannot probe the target: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fd[0]);
    close(fd[1]);
    return errorf(err, errlen, "cannot probe the target: %s", strerror(errno));
  }
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], STDOUT_FILENO);
    dup2(fd[1], STDERR_FILENO);
    close(fd[1]);
    probe_child(t);
  }
  close(fd[1]);
  char out[2048];
  size_t n = 0;
  ssize_t r;
  while ((r = read(fd[0], out + n, sizeof out - 1 - n)) > 0 || (r < 0 && errno == EINTR))
    if (r > 0) n += (size_t)r;
  out[n] = 0;
  close(fd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  const char *line = strstr(out, "PROBE ");
  int fma_flag = 0;
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && line &&
            sscanf(line, "PROBE bits=%d fma=%d", bits, &fma_flag) == 2;
  /* LLVM only warns about a CPU or feature it does not know, then guesses */
  char *unknown = strstr(out, "is not a recognized");
  if (ok && !unknown) {
    *fma = fma_flag != 0;
    return true;
  }
  char *msg = unknown ? unknown : out;
  while (msg > out && msg[-1] != '\n') msg--;
  if (strncmp(msg, "LLVM ERROR: ", 12) == 0) msg += 12;
  if (strncmp(msg, "error: ", 7) == 0) msg += 7;
  char *in_probe = strstr(msg, "in function probe");   /* LLVM names our probe: say only why */
  if (in_probe && strstr(in_probe, "): ")) msg = strstr(in_probe, "): ") + 3;
  msg[strcspn(msg, "\n")] = 0;
  char *ignoring = strstr(msg, " (ignoring");
  if (ignoring) *ignoring = 0;
  size_t len = strlen(msg);
  while (len > 0 && (msg[len - 1] == '!' || msg[len - 1] == ' ')) msg[--len] = 0;
  if (!*msg) msg = WIFSIGNALED(status) ? "LLVM crashed" : "LLVM produced no code";
  return errorf(err, errlen, "LLVM cannot generate code for %s, cpu '%s'%s%s: %s%s", t->triple, t->cpu,
                *t->features ? ", features " : "", t->features, msg, probe_hint(msg));
}

static TargetFamily family_of_probe(const char *triple, int bits, bool fma) {
  if (is_aarch64(triple)) return FAMILY_NEON;
  if (!is_arch(triple, "x86_64")) return FAMILY_GENERIC;
  if (bits >= 512) return FAMILY_AVX512;
  if (bits == 256) return fma ? FAMILY_AVX2 : FAMILY_AVX;
  return FAMILY_SSE2;
}

bool target_resolve(Target *t, const char *triple, const char *cpu, const char *features, char *err,
                    size_t errlen) {
  if (!triple && !cpu && !features) return target_host(t, err, errlen);
  *t = (Target){0};
  init_targets();
  char *host = LLVMGetDefaultTargetTriple();
  t->triple = LLVMNormalizeTargetTriple(triple ? triple : host);
  bool ok = layout_and_host_arch(t, host, err, errlen);
  LLVMDisposeMessage(host);
  if (!ok) {
    target_free(t);
    return false;
  }
  bool host_cpu = !cpu && t->host;
  t->cpu = host_cpu ? LLVMGetHostCPUName() : LLVMCreateMessage(cpu ? cpu : "generic");
  t->features = features ? LLVMCreateMessage(features) : host_cpu ? LLVMGetHostCPUFeatures() : LLVMCreateMessage("");
  int bits = 0;
  bool fma = false;
  if (!run_probe(t, &bits, &fma, err, errlen)) {
    target_free(t);
    return false;
  }
  if (is_arch(t->triple, "x86_64") && bits < 128) {
    errorf(err, errlen, "x86-64 code needs SSE2 (its calling convention passes floats in SSE registers); "
                        "cpu '%s'%s%s has none", t->cpu, *t->features ? " with features " : "", t->features);
    target_free(t);
    return false;
  }
  set_family(t, family_of_probe(t->triple, bits, fma));
  if (t->host) {
    /* the JIT may run it only if the host has every unit the family uses */
    Target h;
    t->host = target_host(&h, err, errlen) && h.family <= t->family && t->family != FAMILY_GENERIC;
    target_free(&h);
  }
  return true;
}

void target_free(Target *t) {
  LLVMDisposeMessage(t->triple);
  LLVMDisposeMessage(t->cpu);
  LLVMDisposeMessage(t->features);
  *t = (Target){0};
}

void target_print(FILE *out, const Target *t) {
  const FamilyInfo *fi = &families[t->family];
  int nfeat = 0;
  for (const char *p = t->features; *p; p++) nfeat += *p == '+';
  fprintf(out, "triple     %s\n", t->triple);
  fprintf(out, "cpu        %s\n", t->cpu);
  if (nfeat > 8)
    fprintf(out, "features   %d enabled (the host's full list; --features overrides)\n", nfeat);
  else
    fprintf(out, "features   %s\n", *t->features ? t->features : "(what the cpu implies)");
  fprintf(out, "family     %s: %s\n", fi->name, fi->what);
  fprintf(out, "vectors    %d floats (%d bits), %d registers, %s, %s\n", t->vector_floats, 32 * t->vector_floats,
          t->vector_regs, t->fma ? "fused multiply-add" : "no fused multiply-add",
          t->masked_loads ? "masked loads" : "no masked loads");
  fprintf(out, "alignment  %d bytes\n", t->align);
  fprintf(out, "L2 cache   %d KiB a core assumed\n", t->l2_bytes / 1024);
  fprintf(out, "tile       %d rows x %d vectors (%d x %d floats): %d accumulators in registers\n", t->tile_rows,
          t->tile_vectors, t->tile_rows, target_tile_cols(t), t->tile_rows * t->tile_vectors);
  fprintf(out, "runs here  %s\n", t->host ? "yes (nnc train can JIT it)" : "no (nnc compile only)");
}
