/* gemm: one matrix product through nnc's JIT against OpenBLAS's sgemm, one core.
 *
 *   gemm [--runs N] M,N,K,TA,TB ...
 *
 * For each shape, an IR graph with one product (ir_input, ir_matmul,
 * ir_output) is JIT-compiled for the host and one thread, and timed against
 * cblas_sgemm on the same row-major operands (TA: A is stored K x M, TB: B
 * is stored N x K).  OpenBLAS is loaded at run time (dlopen of
 * libopenblas.so.0, set to one thread), so nnc itself never links it; without
 * it the nnc figure is still measured.  Both results are compared, so the two
 * sides are known to compute the same product.  Times are the thread's CPU
 * time (other jobs' time slices on a shared machine do not count), each the
 * best of N runs of about 20 ms, nnc and OpenBLAS alternating.  Prints
 *   blas=CORENAME | blas=missing
 *   gemm m=M n=N k=K ta=TA tb=TB nnc_gflops=X blas_gflops=Y|missing max_rel_diff=D
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "ir.h"
#include "jit.h"

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };   /* cblas.h's enum values */
typedef void (*SgemmFn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc);

typedef struct {
  SgemmFn sgemm;           /* NULL: OpenBLAS is missing */
  const char *core;        /* the kernel family OpenBLAS chose */
} Blas;

typedef struct {
  int m, n, k;
  bool ta, tb;
} Shape3;

typedef struct {
  Shape3 s;
  Arena *arena;
  JitGraph *jit;
  float *a, *b, *c;        /* operands; c is OpenBLAS's result */
} Product;

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static Blas load_blas(void) {
  Blas b = {NULL, "missing"};
  void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!h) return b;
  void (*set_threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
  char *(*corename)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
  b.sgemm = (SgemmFn)dlsym(h, "cblas_sgemm");
  if (set_threads) set_threads(1);
  if (corename) b.core = corename();
  return b;
}

static float *random_floats(size_t n, unsigned *seed) {
  float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  for (size_t i = 0; i < n; i++) {
    *seed = *seed * 1103515245u + 12345u;
    p[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
  }
  return p;
}

static bool product_init(Product *p, Shape3 s, char *err, size_t errlen) {
  *p = (Product){.s = s, .arena = arena_new()};
  IrGraph *g = ir_graph_new(p->arena, "gemm", 0);
  IrNode *a = ir_input(g, "a", s.ta ? shape_2(s.k, s.m) : shape_2(s.m, s.k));
  IrNode *b = ir_input(g, "b", s.tb ? shape_2(s.n, s.k) : shape_2(s.k, s.n));
  ir_output(g, "c", ir_matmul(g, a, b, s.ta, s.tb));
  p->jit = jit_compile(g, &(JitOptions){.opt_level = 3}, err, errlen);
  if (!p->jit) return false;
  unsigned seed = 1;
  p->a = random_floats((size_t)s.m * s.k, &seed);
  p->b = random_floats((size_t)s.k * s.n, &seed);
  p->c = random_floats((size_t)s.m * s.n, &seed);
  for (int i = 0; i < jit_nleaves(p->jit); i++)
    jit_bind(p->jit, i, strcmp(jit_leaf(p->jit, i)->name, "a") == 0 ? p->a : p->b);
  return true;
}

static void product_free(Product *p) {
  jit_free(p->jit);
  arena_free(p->arena);
  free(p->a);
  free(p->b);
  free(p->c);
}

static void run_blas(const Product *p, const Blas *bl) {
  const Shape3 *s = &p->s;
  bl->sgemm(ROW_MAJOR, s->ta ? TRANS : NO_TRANS, s->tb ? TRANS : NO_TRANS, s->m, s->n, s->k, 1.0f, p->a,
            s->ta ? s->m : s->k, p->b, s->tb ? s->k : s->n, 0.0f, p->c, s->n);
}

/* Seconds per call of one side (nnc when bl is NULL), over `reps` calls. */
static double time_side(Product *p, const Blas *bl, long reps) {
  double t0 = cpu_seconds();
  for (long r = 0; r < reps; r++) {
    if (bl) run_blas(p, bl);
    else jit_run(p->jit);
  }
  return (cpu_seconds() - t0) / (double)reps;
}

/* Largest difference between the two results, relative to the largest value. */
static double max_rel_diff(const Product *p) {
  const float *c = jit_output(p->jit, "c");
  double diff = 0, scale = 1e-30;
  for (long i = 0; i < (long)p->s.m * p->s.n; i++) {
    diff = fmax(diff, fabs((double)c[i] - p->c[i]));
    scale = fmax(scale, fabs((double)p->c[i]));
  }
  return diff / scale;
}

static void bench_shape(Shape3 s, const Blas *bl, int runs) {
  char err[512];
  Product p;
  if (!product_init(&p, s, err, sizeof err)) {
    printf("gemm m=%d n=%d k=%d ta=%d tb=%d error=\"%s\"\n", s.m, s.n, s.k, s.ta, s.tb, err);
    return;
  }
  double flops = 2.0 * s.m * s.n * s.k;
  long reps = (long)fmax(1.0, 0.02 / fmax(time_side(&p, NULL, 1), 1e-9));   /* about 20 ms a run */
  double best_nnc = INFINITY, best_blas = INFINITY;
  for (int r = 0; r < runs; r++) {
    best_nnc = fmin(best_nnc, time_side(&p, NULL, reps));
    if (bl->sgemm) best_blas = fmin(best_blas, time_side(&p, bl, reps));
  }
  printf("gemm m=%d n=%d k=%d ta=%d tb=%d nnc_gflops=%.2f", s.m, s.n, s.k, s.ta, s.tb, flops / best_nnc * 1e-9);
  if (bl->sgemm) printf(" blas_gflops=%.2f max_rel_diff=%.2g\n", flops / best_blas * 1e-9, max_rel_diff(&p));
  else printf(" blas_gflops=missing\n");
  fflush(stdout);
  product_free(&p);
}

static bool parse_shape(const char *arg, Shape3 *s) {
  int ta, tb, end = 0;
  if (sscanf(arg, "%d,%d,%d,%d,%d%n", &s->m, &s->n, &s->k, &ta, &tb, &end) != 5 || arg[end]) return false;
  s->ta = ta, s->tb = tb;
  return s->m > 0 && s->n > 0 && s->k > 0;
}

int main(int argc, char **argv) {
  int runs = 3, first = 1;
  if (argc > 2 && strcmp(argv[1], "--runs") == 0) runs = atoi(argv[2]), first = 3;
  Shape3 s;
  for (int i = first; i < argc; i++)
    if (runs < 1 || !parse_shape(argv[i], &s)) {
      fprintf(stderr, "usage: gemm [--runs N] M,N,K,TA,TB ...\n");
      return 2;
    }
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040);   /* flush-to-zero, as nnc train runs */
#endif
  Blas bl = load_blas();
  printf("blas=%s\n", bl.core);
  for (int i = first; i < argc; i++) {
    parse_shape(argv[i], &s);
    bench_shape(s, &bl, runs);
  }
  return 0;
}
