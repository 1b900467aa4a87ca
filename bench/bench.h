/* bench.h: the state `make bench` fills (bench.c) and the workloads that
 * fill it: model.c (what the train graphs compute), mlp.c (W1, W2, W3 and
 * peak memory), tools.c (W4, W5 and the GEMM rows), cnn.c (W6), dist.c (W7). */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "proc.h"
#include "table.h"

#define NNC "./nnc"
#define TOOLS "build/bench/"
#define XOR_MODEL "examples/xor.nn"   /* W4: the object build/bench/xor.o is compiled from it */
#define PYTHON "/usr/bin/python3"   /* Debian's, where python3-torch lives; $BENCH_PYTHON overrides */

enum {
  MAX_ROWS = 64,
  MAX_NOTES = 24,
  NOTE_LEN = 512,
  MAX_LAYERS = 16,
  MAX_MATMULS = 32,
};

/* settle(): a measurement waits up to `settle` seconds ($BENCH_SETTLE,
 * default 4) for fewer than QUIET_CPUS CPUs to be busy with other jobs. */
#define QUIET_CPUS 0.5

enum { SECTION_MLP = 1, SECTION_XOR = 2, SECTION_START = 4, SECTION_GEMM = 8, SECTION_CNN = 16, SECTION_MPI = 32,
       SECTION_ALL = 63 };

typedef struct {
  int m, n, k;          /* C[m,n] = A[m,k] B[k,n] */
  bool ta, tb;          /* A stored k x m (weight gradient), B stored n x k (input gradient) */
} Matmul;

/* What a model's train step computes, read from `nnc ir MODEL`. */
typedef struct {
  char name[64];                /* the model's name */
  int batch;                    /* samples per step */
  int layers[MAX_LAYERS];       /* widths, input first (an MLP: each product feeds the next) */
  int nlayers;                  /* 0: not a chain of products PyTorch's reference can mirror */
  int row_floats;               /* input and target floats per sample */
  double flops_per_step;        /* 2 m n k over every product */
  Matmul mm[MAX_MATMULS];       /* the products, in graph order */
  int nmm;
} ModelInfo;

/* A `nnc train` workload with its targets (issue 7). */
typedef struct {
  const char *id;               /* "W1", "W3" */
  const char *model;            /* the .nn file */
  int limit;                    /* training samples per epoch (0: all) */
  double min_ratio;             /* 1 thread: at least this many times PyTorch 1 thread */
  double min_share;             /* 1 thread: at least this share of the 1-core peak */
  double min_speedup;           /* W2: 2 threads at least this many times nnc's 1 thread */
} Workload;

enum { NWORKLOADS = 2 };
extern const Workload workloads[NWORKLOADS];

typedef struct {
  int runs;                     /* best of this many */
  double settle;                /* seconds a measurement may wait for a quiet machine */
  unsigned sections;            /* SECTION_* to run */
  char tmp[256];                /* scratch directory: logs, checkpoints, caches */
  char cache[300];              /* "XDG_CACHE_HOME=..." for the nnc runs */
  char target_text[2048];       /* `nnc target` */
  char family[32];              /* its family ("avx512", "avx2", ...) */
  char cpu[128];                /* /proc/cpuinfo model name */
  char commit[64];              /* git describe of the tree measured */
  int ncpu;
  double load_before, load_after;   /* 1-minute load average */
  int measurements, busy_starts;    /* how many began, and how many of them on a busy machine */
  double peak1, peak2;          /* FMA peak GFLOP/s, 1 and 2 cores (thread CPU time) */
  double wall1, wall2;          /* the same over wall time: what the machine let us have */
  double roundtrip_ns;          /* a cache line from one core to the other and back */
  char isa[48];                 /* the probe's vector ISA */
  int chains;                   /* its accumulator chains */
  bool torch, openblas;         /* references available */
  char torch_why[128];          /* why PyTorch is not */
  char blas_core[64];           /* the kernel family OpenBLAS chose */
  ModelInfo info[NWORKLOADS];   /* per workload */
  ModelInfo xor_info;           /* W4's model */
  Row rows[MAX_ROWS];
  int nrows;
  char notes[MAX_NOTES][NOTE_LEN];
  int nnotes;
} Bench;

/* bench.c */
void note(Bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
Row *add_row(Bench *b, const char *id, const char *unit, const char *ref_name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
char *line_starting(const char *text, const char *prefix, char *buf, size_t len);
const char *tail_of(const char *text);
void remove_tree(const char *dir);
void settle(Bench *b);
const char *python(void);

/* model.c: info[] of every workload; false (said) when nnc cannot read one. */
bool models_load(Bench *b);
/* mlp.c; log_rate: the last samples_per_second of an `nnc train --log` file (NAN if none) */
void bench_mlps(Bench *b);
double log_rate(const char *path);
/* cnn.c */
void bench_cnn(Bench *b);
/* dist.c: W7, W3 over 2 MPI ranks */
void bench_dist(Bench *b);
/* tools.c */
void bench_xor(Bench *b);
void bench_start(Bench *b);
void bench_gemm(Bench *b);

#endif
