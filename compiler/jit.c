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
#include <fenv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

typedef void (*StepFn)(float **, float *, float *, int64_t, int64_t, int64_t);

/* Worker threads for splitting matrix products: the caller computes share 0,
 * worker w share w.  A waiting thread polls for a short while (jobs come a
 * few microseconds apart within a step) and then sleeps on a condition
 * variable, so idle workers between steps cost nothing (on a small machine,
 * spinning workers steal the core they wait for). */
typedef struct {
  pthread_mutex_t mu;        /* guards sleeping and waking */
  pthread_cond_t go;         /* a new job (generation changed) or stop */
  pthread_cond_t done;       /* pending reached 0 */
  atomic_long generation;    /* job counter, bumped after the job is filled in */
  atomic_int pending;        /* workers still on the current job */
  atomic_bool stop;          /* jit_free: workers exit */
  int sleepers;              /* workers blocked on go (under mu) */
  bool caller_sleeps;        /* the caller blocked on done (under mu) */
  int64_t step;              /* current job: the step to split */
  fenv_t env;                /* current job: the caller's floating-point environment */
} Pool;

typedef struct {
  JitGraph *j;               /* the graph whose steps run */
  int part;                  /* this worker's share */
  pthread_t thread;          /* the thread */
} Worker;

struct JitGraph {
  const IrGraph *g;                     /* the graph compiled */
  FusePlan *fp;                         /* its kernels */
  MemPlan *mp;                          /* its memory plan */
  LLVMOrcLLJITRef jit;                  /* owns the code */
  void (*entry)(float **, float *);     /* the generated step */
  float **leaves;                       /* bound leaf buffers, mp->nleaves */
  float *workspace;                     /* mp->workspace floats, 64-byte aligned */
  int nthreads;                         /* 1, or threads splitting large products */
  StepFn step;                          /* one step (threaded runs) */
  bool *split;                          /* per step: split over the threads */
  float **scratch;                      /* per share: packing scratch (share 0: in the workspace) */
  Worker *workers;                      /* nthreads - 1 */
  Pool pool;                            /* their coordination */
};

/* Products smaller than this many multiply-adds run whole: waking a worker
 * costs a few microseconds. */
enum { SPLIT_MIN_MACS = 1 << 20 };

static const char ENTRY[] = "nnc_entry";
static const char ENTRY_STEP[] = "nnc_entry_step";   /* codegen.h: ENTRY "_step" */

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

enum { SPIN_POLLS = 20000 };   /* polls before sleeping: roughly 20-50 microseconds */

static void *worker_main(void *arg) {
  Worker *w = arg;
  JitGraph *j = w->j;
  Pool *p = &j->pool;
  long seen = 0;
  for (;;) {
    for (int i = 0; i < SPIN_POLLS && atomic_load(&p->generation) == seen && !atomic_load(&p->stop); i++) {
    }
    if (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) {
      pthread_mutex_lock(&p->mu);
      p->sleepers++;
      while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->go, &p->mu);
      p->sleepers--;
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = atomic_load(&p->generation);
    fesetenv(&p->env);
    j->step(j->leaves, j->workspace, j->scratch[w->part], p->step, w->part, j->nthreads);
    if (atomic_fetch_sub(&p->pending, 1) == 1) {
      pthread_mutex_lock(&p->mu);
      if (p->caller_sleeps) pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

/* Decides which steps to split and starts nthreads - 1 workers. */
static void start_threads(JitGraph *j, int threads) {
  j->nthreads = threads > 1 ? (threads > 64 ? 64 : threads) : 1;
  if (j->nthreads == 1) return;
  j->split = xcalloc((size_t)j->mp->nsteps + 1, sizeof(bool));
  for (int si = 0; si < j->mp->nsteps; si++) {
    const PlanStep *s = &j->mp->steps[si];
    if (s->kind != STEP_GROUP || j->fp->groups[s->group].kind != FG_MATMUL) continue;
    const IrNode *mm = j->fp->groups[s->group].mm;
    int64_t k = mm->ta ? mm->src[0]->shape.dim[0] : mm->src[0]->shape.dim[1];
    j->split[si] = mm->shape.dim[1] > 32 && (int64_t)mm->shape.dim[0] * mm->shape.dim[1] * k >= SPLIT_MIN_MACS;
  }
  j->scratch = xcalloc((size_t)j->nthreads, sizeof(float *));
  j->scratch[0] = j->workspace + j->mp->scratch_off;
  size_t bytes = ((size_t)j->mp->scratch_len * sizeof(float) + 63) / 64 * 64 + 64;
  for (int t = 1; t < j->nthreads; t++) {
    j->scratch[t] = aligned_alloc(64, bytes);
    if (!j->scratch[t]) die("out of memory for %zu bytes of scratch", bytes);
  }
  pthread_mutex_init(&j->pool.mu, NULL);
  pthread_cond_init(&j->pool.go, NULL);
  pthread_cond_init(&j->pool.done, NULL);
  j->workers = xcalloc((size_t)j->nthreads, sizeof(Worker));
  for (int t = 1; t < j->nthreads; t++) {
    j->workers[t - 1] = (Worker){j, t, 0};
    if (pthread_create(&j->workers[t - 1].thread, NULL, worker_main, &j->workers[t - 1]) != 0)
      die("cannot start a worker thread");
  }
}

static void stop_threads(JitGraph *j) {
  if (j->nthreads <= 1) return;
  pthread_mutex_lock(&j->pool.mu);
  atomic_store(&j->pool.stop, true);
  pthread_cond_broadcast(&j->pool.go);
  pthread_mutex_unlock(&j->pool.mu);
  for (int t = 1; t < j->nthreads; t++) pthread_join(j->workers[t - 1].thread, NULL);
  pthread_mutex_destroy(&j->pool.mu);
  pthread_cond_destroy(&j->pool.go);
  pthread_cond_destroy(&j->pool.done);
  for (int t = 1; t < j->nthreads; t++) free(j->scratch[t]);
  free(j->scratch);
  free(j->workers);
  free(j->split);
}

/* Runs the steps one by one, splitting the large products over the threads. */
static void run_threaded(JitGraph *j) {
  Pool *p = &j->pool;
  for (int si = 0; si < j->mp->nsteps; si++) {
    if (!j->split[si]) {
      j->step(j->leaves, j->workspace, j->scratch[0], si, 0, 1);
      continue;
    }
    p->step = si;
    fegetenv(&p->env);
    atomic_store(&p->pending, j->nthreads - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->generation, 1);
    if (p->sleepers > 0) pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    j->step(j->leaves, j->workspace, j->scratch[0], si, 0, j->nthreads);
    for (int i = 0; i < SPIN_POLLS && atomic_load(&p->pending) > 0; i++) {
    }
    if (atomic_load(&p->pending) > 0) {
      pthread_mutex_lock(&p->mu);
      p->caller_sleeps = true;
      while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
      p->caller_sleeps = false;
      pthread_mutex_unlock(&p->mu);
    }
  }
}

JitGraph *jit_compile(const IrGraph *g, const JitOptions *options, char *err, size_t errlen) {
  JitOptions opt = options ? *options : (JitOptions){3, NULL, NULL, 1};
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
  LLVMOrcExecutorAddress step_addr = 0;
  if (!e) e = LLVMOrcLLJITLookup(j->jit, &step_addr, ENTRY_STEP);
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
  j->step = (StepFn)(uintptr_t)step_addr;
  start_threads(j, opt.threads);
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
  if (j->nthreads > 1)
    run_threaded(j);
  else
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
  stop_threads(j);
  if (j->jit) LLVMConsumeError(LLVMOrcDisposeLLJIT(j->jit));
  free(j->workspace);
  free(j->leaves);
  plan_free(j->mp);
  fuse_free(j->fp);
  free(j);
}
