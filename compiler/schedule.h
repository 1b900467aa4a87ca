/* schedule: how each planned step runs -- loop order, tile, vector width and
 * the split across threads.  Decided here, between the memory plan and code
 * generation, so the code generator only follows orders and
 * `nnc ir --stage=schedule` can print every decision without running LLVM.
 *
 * In: a MemPlan and the Target.  Out: per step
 *   - the loop nest: the kernel's space with size-1 axes dropped and
 *     neighbouring axes merged when every access sees them as one (so a
 *     typical elementwise kernel is one flat loop the vectorizer takes);
 *     row-wise reductions get a nest over the kept axes (outside) and one
 *     over the reduced axes (inside);
 *   - for a matrix product, the tile (rows x vectors of the target) and the
 *     loop order: column panels outside (B packed one panel at a time) or
 *     row blocks outside (B packed whole once, the epilogue walking output
 *     rows in memory order), and whether A is packed per row block; a tiny
 *     product (XOR's 4x2x4) skips all that and runs a row at a time;
 *   - the split: the outermost loop is cut into `units` pieces of `grain`
 *     iterations; a parallel step gives each thread a contiguous run of
 *     units, a serial one runs on thread 0.  A split never cuts through a
 *     reduction, so every element is computed by the same instructions in
 *     the same order whatever the thread count: results are bit-identical.
 *   - scratch floats per thread (packed operands).
 * Generated kernels take (lo, hi) unit bounds; the object file's entry calls
 * each with the whole range.
 */
#ifndef NNC_SCHEDULE_H
#define NNC_SCHEDULE_H

#include <stdio.h>

#include "plan.h"
#include "target.h"

typedef struct {
  int n;                        /* loops, outermost first */
  int64_t size[IR_MAX_DIMS];    /* trip counts */
  int hi[IR_MAX_DIMS];          /* innermost space axis of each (merged) loop */
} LoopNest;

typedef struct {
  int64_t M, N, K;              /* the product computed: C[M,N] = A[M,K] B[K,N] (after swap) */
  int rows, vectors, vw;        /* tile: rows x vectors of vw floats */
  bool swap;                    /* computes C^T = B^T A^T: a narrow C (10 logits) then fills
                                   whole tile columns instead of padding them */
  bool direct;                  /* tiny: a row at a time, no packing, no tile (units = rows,
                                   or one unit of them all) */
  bool rows_outer;              /* row blocks outside column panels (B packed whole, or per
                                   column slice) */
  bool pack_a;                  /* A's row block packed k-major before its micro-kernels */
  bool b_in_place;              /* B read where it is instead of packed (whole or per panel) */
  bool column_slices;           /* rows outside, units are column panels: each thread runs
                                   every row block over its slice of C's columns */
} GemmSchedule;

/* Flat convolution tiles take filters of at most this many rows and columns. */
enum { CONV_FLAT_MAX_SIZE = 8 };

/* How a convolution group (conv2d, conv2d_data, conv2d_filter) runs. */
typedef enum {
  CONV_LOOPS,      /* direct loops: each output plane accumulated tap by tap in scratch (any geometry) */
  CONV_TILED,      /* register tiles reading input rows as vectors (column stride 1, row-contiguous sources) */
  CONV_LANES,      /* conv2d_filter, one group: filters in vector lanes, the input broadcast from a padded copy */
} ConvMethod;

/* CONV_TILED, conv2d and conv2d_data: a tile is `rows` output channels by
 * `vectors` vectors of each of `lines` output rows, summed in registers over
 * the input channels and taps.  conv2d_filter: a tile is `chans` input
 * channels' taps of `rows` filters, each a vector summed over images and
 * positions.  CONV_LANES: a unit is `rows` filters, a tile `vectors`
 * vectors of them by one input channel's taps, summed over an image. */
typedef struct {
  ConvMethod method;            /* which kernel */
  int64_t macs;                 /* multiply-adds of the whole convolution */
  int rows, vectors, vw;        /* CONV_TILED tile (conv2d_filter: rows = filters per unit); floats per vector */
  int lines;                    /* CONV_TILED conv2d, conv2d_data: output rows per tile */
  bool flat;                    /* CONV_TILED conv2d, conv2d_data: tiles of the output plane taken as
                                   one row of points (lines 1), where rows leave lanes idle */
  int chans;                    /* CONV_TILED conv2d_filter: input channels per tile */
  int padded[2];                /* CONV_LANES: rows and columns of the zero-padded copy of an input plane */
} ConvSchedule;

typedef enum {
  SPLIT_SERIAL,    /* thread 0 runs the whole step */
  SPLIT_PARALLEL,  /* units shared out among the threads */
} SplitKind;

typedef struct {
  LoopNest loops;               /* the nest (row-wise reductions: the kept axes) */
  LoopNest inner;               /* row-wise reductions: the reduced axes */
  GemmSchedule gemm;            /* FG_MATMUL only */
  ConvSchedule conv;            /* FG_CONV only */
  int64_t units;                /* pieces of the outermost loop (1: indivisible) */
  int64_t grain;                /* its iterations per unit (the last unit may be short) */
  SplitKind split;              /* serial or parallel */
  bool split_columns;           /* an in-memory reduction: the units cut its innermost loop,
                                   the outputs' columns, instead of the outermost */
  int64_t work;                 /* estimated floating-point operations */
  int64_t scratch;              /* floats of scratch per thread */
} StepSchedule;

typedef struct {
  const MemPlan *mp;            /* what was scheduled */
  const Target *t;              /* for whom */
  StepSchedule *steps;          /* per plan step */
  int64_t scratch;              /* floats of scratch per thread (max over steps, aligned) */
  Arena *arena;                 /* owns steps */
} Schedule;

Schedule *schedule_plan(const MemPlan *mp, const Target *t);
void schedule_free(Schedule *s);

/* Thread tid's units [*lo, *hi) of step si among nthreads (empty: lo == hi). */
void schedule_range(const Schedule *s, int si, int tid, int nthreads, int64_t *lo, int64_t *hi);
/* Whether the threads must meet before step si runs. */
bool schedule_barrier_before(const Schedule *s, int si);

/* Floats of workspace for nthreads: the plan's buffers, then one scratch area per thread. */
int64_t schedule_workspace(const Schedule *s, int nthreads);
/* Offset of thread tid's scratch area, in floats. */
int64_t schedule_scratch_offset(const Schedule *s, int tid);

/* Space strides of member n's own row-major index under its map (stores,
 * random-number indices). */
void schedule_own_strides(const FusePlan *fp, const IrNode *n, int space_ndim, int64_t *st);

/* One line per step (`nnc ir --stage=schedule`), splits shown for nthreads. */
void schedule_print(FILE *out, const Schedule *s, int nthreads);
/* What step si is, in a few words (kind, shape, tile), and a newline. */
void schedule_print_step(FILE *out, const Schedule *s, int si);

#endif
