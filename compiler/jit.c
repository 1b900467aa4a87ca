/* jit: plan, generate, optimize and load a graph; run it on a pool (see jit.h).
 *
 * One LLJIT per compiled graph, so freeing a JitGraph releases its code.  The
 * module is optimized and turned into object code by one target machine made
 * from the Target (the host's unless told otherwise), and that object is what
 * the LLJIT links: the same bytes the compile cache stores (cache.h), so a
 * cached run and a fresh one execute identical code.  libm symbols the code calls are
 * resolved from the running process.
 */
#include "jit.h"

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "codegen.h"
#include "pipeline.h"

typedef void (*StepFn)(float **leaves, float *ws, float *scratch, int64_t lo, int64_t hi);

/* Threads help only when the machine gives them cores at the same time: on
 * a busy shared host a thread that waits at a barrier for one that is not
 * running costs a scheduler time slice, and the pool runs slower than one
 * thread.  So every window of runs starts with ADAPT_PROBES runs on one
 * thread and ADAPT_PROBES on all, timed, and the rest of the window runs
 * the way that was faster (all threads only when clearly faster).  While
 * one thread keeps winning the windows grow, so the probes cost little.
 * Any thread count computes the same bits, so this never changes a result. */
enum { ADAPT_WINDOW = 64, ADAPT_MAX_WINDOW = 4096, ADAPT_PROBES = 2 };
typedef struct {
  long long phase;        /* runs into the current window */
  long long window;       /* its length */
  double single, multi;   /* wall time of this window's probes */
  bool use_single;        /* the rest of the window runs on one thread */
  long long single_runs;  /* runs on one thread although the pool had more */
} Adapt;

struct JitGraph {
  const IrGraph *g;                     /* the graph compiled */
  Planned *plan;                        /* its kernels, buffers and schedule */
  Target host;                          /* the target when none was given */
  const Target *t;                      /* the target compiled for */
  Pool *pool;                           /* threads jit_run uses, or NULL */
  LLVMOrcLLJITRef jit;                  /* owns the code */
  void (*entry)(float **, float *);     /* every step, one thread */
  StepFn *steps;                        /* per step, for the pool */
  bool *barrier;                        /* per step: threads meet before it */
  float **leaves;                       /* bound leaf buffers, mp->nleaves */
  float *workspace;                     /* schedule_workspace(threads) floats */
  bool from_cache;                      /* code loaded from the compile cache */
  double *step_seconds;                 /* profiling: time per step over all runs, or NULL */
  long long runs;                       /* profiling: runs timed */
  Adapt adapt;                          /* one thread or all, measured as the runs go */
  bool always_pool;                     /* JitOptions.always_pool */
};

static const char ENTRY[] = "nnc_entry";

/* Once per process, before any thread compiles. */
static pthread_once_t llvm_once = PTHREAD_ONCE_INIT;
static void init_llvm(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
}

/* Copies an LLVM error into err and consumes it; returns NULL for chaining. */
static void *llvm_fail(LLVMErrorRef e, const char *what, char *err, size_t errlen) {
  char *msg = LLVMGetErrorMessage(e);
  snprintf(err, errlen, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  return NULL;
}

static LLVMOrcLLJITRef make_jit(const Target *t, char *err, size_t errlen) {
  LLVMTargetMachineRef tm = target_machine(t, true, err, errlen);
  if (!tm) return NULL;
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMOrcLLJITRef jit;
  LLVMErrorRef e;
  if ((e = LLVMOrcCreateLLJIT(&jit, builder))) return llvm_fail(e, "cannot create the JIT", err, errlen);
  LLVMOrcDefinitionGeneratorRef gen;
  if ((e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL))) {
    LLVMConsumeError(LLVMOrcDisposeLLJIT(jit));
    return llvm_fail(e, "cannot search the process for symbols", err, errlen);
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), gen);
  return jit;
}

/* The graph's object code: generated, optimized and emitted to memory. */
static LLVMMemoryBufferRef generate(JitGraph *j, const JitOptions *o, char *err, size_t errlen) {
  LLVMTargetMachineRef tm = target_machine(j->t, true, err, errlen);
  if (!tm) return NULL;
  LLVMContextRef ctx = LLVMContextCreate();
  double t0 = pipeline_clock();
  LLVMModuleRef mod = codegen_module(ctx, j->plan->sched, ENTRY, true);
  double t1 = pipeline_clock();
  bool ok = codegen_optimize(mod, tm, o->opt_level, o->dump_before, o->dump_after, err, errlen);
  double t2 = pipeline_clock();
  LLVMMemoryBufferRef obj = NULL;
  char *msg = NULL;
  if (ok && LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &obj)) {
    snprintf(err, errlen, "cannot generate machine code: %s", msg ? msg : "");
    obj = NULL;
  }
  LLVMDisposeMessage(msg);
  pipeline_account(STAGE_CODEGEN, t1 - t0);
  pipeline_account(STAGE_OPTIMIZE, t2 - t1);
  pipeline_account(STAGE_MACHINE, pipeline_clock() - t2);
  LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  return obj;
}

static bool lookup(JitGraph *j, const char *name, void **out, char *err, size_t errlen) {
  LLVMOrcExecutorAddress addr = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &addr, name);
  if (e) return llvm_fail(e, "cannot load the generated code", err, errlen) != NULL;
  *out = (void *)(uintptr_t)addr;
  return true;
}

/* Drops loaded code (to load other code instead). */
static void unload(JitGraph *j) {
  if (j->jit) LLVMConsumeError(LLVMOrcDisposeLLJIT(j->jit));
  j->jit = NULL;
  free(j->steps);
  free(j->barrier);
  j->steps = NULL;
  j->barrier = NULL;
  j->from_cache = false;
}

/* Links the object into a fresh LLJIT and finds the entries. */
static bool load(JitGraph *j, LLVMMemoryBufferRef obj, char *err, size_t errlen) {
  double t0 = pipeline_clock();
  j->jit = make_jit(j->t, err, errlen);
  if (!j->jit) {
    LLVMDisposeMemoryBuffer(obj);
    return false;
  }
  LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), obj);
  if (e) return llvm_fail(e, "cannot load the generated code", err, errlen) != NULL;
  const MemPlan *mp = j->plan->mp;
  if (!lookup(j, ENTRY, (void **)&j->entry, err, errlen)) return false;
  j->steps = xcalloc((size_t)mp->nsteps + 1, sizeof(StepFn));
  j->barrier = xcalloc((size_t)mp->nsteps + 1, sizeof(bool));
  for (int si = 0; si < mp->nsteps; si++) {
    char name[64];
    snprintf(name, sizeof name, "%s.step%d", ENTRY, si);
    if (!lookup(j, name, (void **)&j->steps[si], err, errlen)) return false;
    j->barrier[si] = schedule_barrier_before(j->plan->sched, si);
  }
  pipeline_account(STAGE_LOAD, pipeline_clock() - t0);
  return true;
}

/* The cache key of j's code: the graph as text (and its constants' exact
 * bits, which the text rounds), the schedule, the target and the build. */
static CacheKey code_key(const JitGraph *j, int opt_level) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ir_print(f, j->g);
  schedule_print(f, j->plan->sched, 1);
  fprintf(f, "%s\n%s\n%s\nO%d\n", j->t->triple, j->t->cpu, j->t->features, opt_level);
  fclose(f);
  Hasher h;
  hash_init(&h);
  hash_bytes(&h, text, len);
  free(text);
  bool *live = ir_live(j->g);
  for (int id = 0; id < j->g->nodes.len; id++) {
    const IrNode *n = j->g->nodes.items[id];
    if (live[id] && n->op == OP_CONST) hash_bytes(&h, &n->value, sizeof n->value);
  }
  free(live);
  cache_hash_build(&h);
  return hash_done(&h);
}

/* The object code: from the cache, or generated (and then cached). */
static LLVMMemoryBufferRef object_code(JitGraph *j, const JitOptions *o, CacheKey *key, char *err, size_t errlen) {
  bool cached = !o->no_cache && !o->dump_before && !o->dump_after;
  if (cached) {
    double t0 = pipeline_clock();
    *key = code_key(j, o->opt_level);
    void *data;
    size_t len;
    if (cache_load(key, &data, &len)) {
      LLVMMemoryBufferRef obj = LLVMCreateMemoryBufferWithMemoryRangeCopy(data, len, "cached");
      free(data);
      j->from_cache = true;
      pipeline_account(STAGE_CACHE, pipeline_clock() - t0);
      return obj;
    }
    pipeline_account(STAGE_CACHE, pipeline_clock() - t0);
  }
  LLVMMemoryBufferRef obj = generate(j, o, err, errlen);
  if (obj && cached) cache_store(key, LLVMGetBufferStart(obj), LLVMGetBufferSize(obj));
  return obj;
}

JitGraph *jit_compile(const IrGraph *g, const JitOptions *options, char *err, size_t errlen) {
  JitOptions opt = options ? *options : (JitOptions){.opt_level = 3};
  if (opt.opt_level < 0 || opt.opt_level > 3) opt.opt_level = 3;
  JitGraph *j = xcalloc(1, sizeof *j);
  j->g = g;
  j->pool = opt.pool;
  j->always_pool = opt.always_pool;
  j->t = opt.target;
  if (!j->t) {
    if (!target_host(&j->host, err, errlen)) {
      jit_free(j);
      return NULL;
    }
    j->t = &j->host;
  }
  if (!j->t->host) {
    snprintf(err, errlen, "this machine cannot run code for %s (%s)", j->t->cpu, target_family_name(j->t->family));
    jit_free(j);
    return NULL;
  }
  pthread_once(&llvm_once, init_llvm);
  j->plan = pipeline_plan(g, j->t);
  CacheKey key;
  LLVMMemoryBufferRef obj = object_code(j, &opt, &key, err, errlen);
  bool loaded = obj && load(j, obj, err, errlen);
  if (!loaded && j->from_cache) {   /* an entry that passed its checks but does not link: replace it */
    unload(j);
    obj = generate(j, &opt, err, errlen);
    if (obj) cache_store(&key, LLVMGetBufferStart(obj), LLVMGetBufferSize(obj));
    loaded = obj && load(j, obj, err, errlen);
  }
  if (!loaded) {
    jit_free(j);
    return NULL;
  }
  const MemPlan *mp = j->plan->mp;
  j->leaves = xcalloc((size_t)mp->nleaves + 1, sizeof(float *));
  size_t align = (size_t)j->t->align;
  size_t bytes = ((size_t)schedule_workspace(j->plan->sched, pool_threads(j->pool)) * sizeof(float) + align - 1) /
                 align * align + align;
  j->workspace = big_alloc(bytes, align);
  if (!j->workspace) {
    snprintf(err, errlen, "out of memory for a %zu-byte workspace", bytes);
    jit_free(j);
    return NULL;
  }
  memset(j->workspace, 0, bytes);
  return j;
}

int jit_nleaves(const JitGraph *j) { return j->plan->mp->nleaves; }

const IrNode *jit_leaf(const JitGraph *j, int i) {
  if (i < 0 || i >= j->plan->mp->nleaves) die("jit_leaf: no leaf %d", i);
  return j->plan->mp->leaves[i];
}

void jit_bind(JitGraph *j, int i, float *buf) {
  if (i < 0 || i >= j->plan->mp->nleaves) die("jit_bind: no leaf %d", i);
  j->leaves[i] = buf;
}

/* Profiling clock: this thread's CPU time, so that time the scheduler gives
 * to other processes on a shared machine is not counted. */
static double thread_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One thread's share of a run: its units of every step, meeting the others
 * where the schedule says. */
static void run_steps(void *ctx, int tid, int nthreads) {
  JitGraph *j = ctx;
  const Schedule *s = j->plan->sched;
  float *scratch = j->workspace + schedule_scratch_offset(s, tid);
  bool timed = j->step_seconds && tid == 0;
  for (int si = 0; si < s->mp->nsteps; si++) {
    double t0 = timed ? thread_seconds() : 0;
    if (j->barrier[si] && nthreads > 1) pool_barrier(j->pool);
    int64_t lo, hi;
    schedule_range(s, si, tid, nthreads, &lo, &hi);
    if (lo < hi) j->steps[si](j->leaves, j->workspace, scratch, lo, hi);
    if (timed) j->step_seconds[si] += thread_seconds() - t0;
  }
}

static void run_single(JitGraph *j) {
  if (j->step_seconds)
    run_steps(j, 0, 1);
  else
    j->entry(j->leaves, j->workspace);
}

/* A run on the pool, or on this thread alone as the adaptation says. */
static void run_adaptive(JitGraph *j) {
  Adapt *a = &j->adapt;
  if (a->phase >= a->window) a->phase = 0;
  if (a->window == 0) a->window = ADAPT_WINDOW;
  long long phase = a->phase++;
  bool single = phase < ADAPT_PROBES || (phase >= 2 * ADAPT_PROBES && a->use_single);
  double t0 = phase < 2 * ADAPT_PROBES ? pipeline_clock() : 0;
  if (single) {
    run_single(j);
    a->single_runs++;
  } else {
    pool_run(j->pool, run_steps, j);
  }
  if (phase >= 2 * ADAPT_PROBES) return;
  *(single ? &a->single : &a->multi) += pipeline_clock() - t0;
  if (phase == 2 * ADAPT_PROBES - 1) {
    a->use_single = a->multi > 0.9 * a->single;
    a->window = !a->use_single ? ADAPT_WINDOW : a->window < ADAPT_MAX_WINDOW ? 2 * a->window : a->window;
    a->single = a->multi = 0;
  }
}

void jit_run(JitGraph *j) {
  for (int i = 0; i < j->plan->mp->nleaves; i++)
    if (!j->leaves[i]) die("jit_run: leaf %s is not bound", j->plan->mp->leaves[i]->name);
  if (j->step_seconds) j->runs++;
  if (pool_threads(j->pool) > 1 && j->always_pool)
    pool_run(j->pool, run_steps, j);
  else if (pool_threads(j->pool) > 1)
    run_adaptive(j);
  else
    run_single(j);
}

long long jit_single_runs(const JitGraph *j) { return j->adapt.single_runs; }

void jit_profile(JitGraph *j, bool on) {
  free(j->step_seconds);
  j->step_seconds = on ? xcalloc((size_t)j->plan->mp->nsteps + 1, sizeof(double)) : NULL;
  j->runs = 0;
}

void jit_print_profile(FILE *out, const JitGraph *j) {
  const Schedule *s = j->plan->sched;
  int n = s->mp->nsteps;
  if (!j->step_seconds || j->runs == 0) return;
  int *order = xcalloc((size_t)n + 1, sizeof(int));
  double total = 0;
  for (int i = 0; i < n; i++) order[i] = i, total += j->step_seconds[i];
  for (int i = 1; i < n; i++)   /* insertion sort, slowest first */
    for (int k = i; k > 0 && j->step_seconds[order[k]] > j->step_seconds[order[k - 1]]; k--) {
      int tmp = order[k];
      order[k] = order[k - 1], order[k - 1] = tmp;
    }
  fprintf(out, "%s: %lld runs, %.1f us per run (%d thread%s", j->g->name, j->runs, 1e6 * total / (double)j->runs,
          pool_threads(j->pool), pool_threads(j->pool) == 1 ? "" : "s");
  if (j->adapt.single_runs) fprintf(out, "; %lld runs on one thread, which was faster", j->adapt.single_runs);
  fprintf(out, ")\n");
  for (int r = 0; r < n; r++) {
    int si = order[r];
    double per = j->step_seconds[si] / (double)j->runs;
    fprintf(out, "  step %3d  %9.2f us  %5.1f%%  %7.1f GFLOP/s  ", si, 1e6 * per, 100 * j->step_seconds[si] / total,
            per > 0 ? 1e-9 * (double)s->steps[si].work / per : 0);
    schedule_print_step(out, s, si);
  }
  free(order);
}

const float *jit_output(const JitGraph *j, const char *name) {
  const MemPlan *mp = j->plan->mp;
  for (int i = 0; i < j->g->outputs.len; i++) {
    const IrOutput *o = j->g->outputs.items[i];
    if (strcmp(o->name, name) != 0) continue;
    const PlanBuf *pb = &mp->bufs[mp->output_buf[i]];
    return pb->leaf >= 0 ? j->leaves[pb->leaf] : j->workspace + pb->offset;
  }
  return NULL;
}

void jit_print_kernels(FILE *out, const JitGraph *j) { fuse_print(out, j->plan->fp); }

long long jit_workspace_floats(const JitGraph *j) {
  return (long long)schedule_workspace(j->plan->sched, pool_threads(j->pool));
}

bool jit_from_cache(const JitGraph *j) { return j->from_cache; }

void jit_free(JitGraph *j) {
  if (!j) return;
  unload(j);
  free(j->workspace);
  free(j->leaves);
  free(j->step_seconds);
  pipeline_plan_free(j->plan);
  target_free(&j->host);
  free(j);
}
