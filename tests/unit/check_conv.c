/* check_conv: the generated code of convolutions and pools against the
 * reference evaluator: every window op alone at several geometries (strides,
 * padding, dilation, groups), with an epilogue fused in; a small CNN's
 * train step (conv, pools, batch norm over channels, channel dropout, Adam)
 * for every target family this host runs and for 1, 2 and 3 threads, whose
 * weights must come out bit-identical; and what fusion makes of them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "jitcmp.h"
#include "pipeline.h"
#include "pool.h"
#include "target.h"
#include "testutil.h"

#define EXPECT_MATCH(g, seed, steps, fill, opt)                                 \
  do {                                                                           \
    Cmp c_ = jitcmp_run((g), (seed), -1, 1, (steps), (fill), (opt));             \
    ck_assert_msg(c_.bad == 0, "%d mismatches, first %s", c_.bad, c_.where);     \
  } while (0)

static const JitOptions host1 = {.opt_level = 3};

/* A geometry: input [B,C,H,W], filter [O,C/groups,KH,KW] (pools: window
 * size), stride, padding (top, left, bottom, right), dilation, groups. */
typedef struct {
  int x[4], o, k[2], stride[2], pad[4], dil[2], groups;
} Geo;

static const Geo conv_geos[] = {
    {{2, 3, 9, 8}, 4, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
    {{3, 4, 11, 10}, 6, {3, 2}, {2, 1}, {1, 0, 0, 1}, {1, 2}, 2},
    {{2, 2, 13, 12}, 5, {5, 5}, {3, 2}, {2, 2, 2, 2}, {1, 1}, 1},
    {{1, 6, 7, 7}, 6, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}, 6},
    {{4, 1, 6, 17}, 3, {1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1},
    {{2, 32, 14, 14}, 64, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
    {{1, 2, 4, 70}, 3, {3, 3}, {1, 1}, {1, 2, 1, 2}, {1, 1}, 1},    /* rows of more vectors than a tile (72 columns
                                                                       from 70: not flat) */
    {{1, 3, 6, 3}, 4, {2, 5}, {2, 1}, {0, 2, 1, 2}, {2, 1}, 1},     /* taps reaching past both sides */
    {{2, 4, 7, 9}, 6, {3, 2}, {1, 1}, {0, 1, 2, 0}, {2, 3}, 2},     /* stride 1, uneven padding, dilation, groups */
    {{2, 8, 11, 10}, 20, {3, 3}, {2, 1}, {2, 1, 0, 1}, {1, 2}, 1}, /* filters in lanes: part vectors, stride, dilation */
    {{2, 8, 9, 3}, 20, {3, 3}, {1, 1}, {1, 0, 1, 0}, {1, 1}, 1},   /* filters in lanes, gradient planes one column wide */
    /* flat tiles (rows back to back in the lanes): fewer rows out than in, */
    {{2, 8, 9, 10}, 9, {3, 3}, {1, 1}, {0, 1, 0, 1}, {1, 1}, 1},
    {{1, 8, 6, 11}, 5, {2, 3}, {1, 1}, {1, 3, 0, 1}, {2, 2}, 1},    /* dilation, uneven padding, */
    {{2, 16, 5, 7}, 16, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 2},   /* groups */
};
static const Geo pool_geos[] = {
    {{2, 3, 8, 8}, 0, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0},
    {{2, 2, 9, 7}, 0, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
    {{1, 2, 5, 9}, 0, {2, 3}, {1, 2}, {0, 1, 1, 1}, {1, 1}, 0},
};

static IrWindow window_of(const Geo *c) {
  IrWindow w = {.groups = c->groups};
  for (int i = 0; i < 2; i++) w.size[i] = c->k[i], w.stride[i] = c->stride[i], w.dilation[i] = c->dil[i];
  for (int i = 0; i < 4; i++) w.pad[i] = c->pad[i];
  return w;
}

static Shape out_shape(const Geo *c, int channels) {
  Shape y = shape_of(4, c->x);
  y.dim[1] = channels;
  for (int a = 0; a < 2; a++)
    y.dim[2 + a] = ir_window_count(c->x[2 + a], c->k[a], c->stride[a], c->pad[a], c->pad[a + 2], c->dil[a]);
  return y;
}

typedef struct {
  const char *cpu;   /* x86-64 CPU, or NULL for the host */
  int threads;       /* pool size */
} Config;

/* The host, and the narrower vector families it can run. */
static const Config configs[] = {{NULL, 1}, {"x86-64-v3", 1}, {"x86-64", 1}, {NULL, 2}, {NULL, 3}};

/* Resolves cf's target; false (after a note) when this host cannot run it. */
static bool config_target(const Config *cf, Target *t) {
  char err[1024];
  bool ok = cf->cpu ? target_resolve(t, "x86_64-linux-gnu", cf->cpu, NULL, err, sizeof err) : target_host(t, err, sizeof err);
  ck_assert_msg(ok, "%s", err);
  if (t->host) return true;
  fprintf(stderr, "check_conv: this host cannot run %s code\n", target_family_name(t->family));
  target_free(t);
  return false;
}

/* Each convolution of each geometry, with a bias and a ReLU fused after it
 * (and a scale after the adjoints), against the evaluator, for the host's
 * vector family and the narrower ones (other tile shapes, other tails). */
START_TEST(convolutions_match_evaluator) {
  Target t;
  if (!config_target(&configs[_i], &t)) return;
  JitOptions o = {.opt_level = 3, .target = &t};
  for (size_t i = 0; i < COUNT_OF(conv_geos); i++) {
    const Geo *c = &conv_geos[i];
    Shape x = shape_of(4, c->x), y = out_shape(c, c->o);
    Shape w = shape_of(4, (int[]){c->o, c->x[1] / c->groups, c->k[0], c->k[1]});
    IrWindow win = window_of(c);
    for (IrOp op = OP_CONV2D; op <= OP_CONV2D_FILTER; op++) {
      Arena *a = arena_new();
      IrGraph *g = ir_graph_new(a, "conv", 0);
      Shape s0 = op == OP_CONV2D_DATA ? y : x, s1 = op == OP_CONV2D_FILTER ? y : w;
      IrNode *in0 = ir_input(g, "a", s0), *in1 = ir_input(g, "b", s1);
      IrNode *r = ir_window(g, op, in0, in1, win, op == OP_CONV2D_FILTER ? w : x);
      IrNode *bias = ir_input(g, "bias", shape_of(3, (int[]){r->shape.dim[1], 1, 1}));
      IrNode *e = ir_binary(g, OP_MAX, ir_binary(g, OP_ADD, r, bias), ir_const(g, 0));
      ir_output(g, "r", op == OP_CONV2D ? e : ir_binary(g, OP_MUL, r, ir_const(g, 0.5)));
      EXPECT_MATCH(g, 100 + i * 3 + (size_t)(op - OP_CONV2D), 1, NULL, &o);
      arena_free(a);
    }
  }
  target_free(&t);
}
END_TEST

/* Flat tiles are chosen where rows leave lanes idle, the input is read with
 * stride 1 and the family has masked loads: 14 columns on AVX-512 and AVX2,
 * forward and data gradient; not 16 columns (no idle lane), nor a stride of
 * 2 (whose data gradient is not tiled), nor anything on SSE2. */
START_TEST(flat_tiles_chosen) {
  static const struct {
    int x[4], o, stride;
    bool flat[2][2];   /* conv2d, conv2d_data: on AVX-512, on AVX2 */
  } cases[] = {
      {{2, 32, 14, 14}, 64, 1, {{true, true}, {true, true}}},
      {{2, 32, 16, 16}, 32, 1, {{false, false}, {false, false}}},
      {{2, 32, 12, 12}, 32, 1, {{true, true}, {true, true}}},
      {{2, 1, 28, 28}, 32, 1, {{true, true}, {true, true}}},
      {{2, 32, 14, 14}, 32, 2, {{false, false}, {false, false}}},
  };
  Target t;
  if (!config_target(&configs[_i], &t)) return;
  for (size_t i = 0; i < COUNT_OF(cases); i++) {
    Arena *a = arena_new();
    IrGraph *g = ir_graph_new(a, "flat", 0);
    IrWindow win = {.size = {3, 3}, .stride = {cases[i].stride, cases[i].stride}, .pad = {1, 1, 1, 1},
                    .dilation = {1, 1}, .groups = 1};
    Shape x = shape_of(4, cases[i].x), w = shape_of(4, (int[]){cases[i].o, cases[i].x[1], 3, 3});
    Geo geo = {{cases[i].x[0], cases[i].x[1], cases[i].x[2], cases[i].x[3]}, cases[i].o, {3, 3},
               {cases[i].stride, cases[i].stride}, {1, 1, 1, 1}, {1, 1}, 1};
    Shape y = out_shape(&geo, cases[i].o);
    IrNode *fwd = ir_window(g, OP_CONV2D, ir_input(g, "x", x), ir_input(g, "w", w), win, y);
    IrNode *data = ir_window(g, OP_CONV2D_DATA, ir_input(g, "g", y), ir_input(g, "w2", w), win, x);
    ir_output(g, "y", ir_binary(g, OP_MUL, fwd, ir_const(g, 2)));
    ir_output(g, "dx", ir_binary(g, OP_MUL, data, ir_const(g, 2)));
    Planned *p = pipeline_plan(g, &t);
    int convs = 0;
    for (int si = 0; si < p->mp->nsteps; si++) {
      const PlanStep *st = &p->mp->steps[si];
      if (st->kind != STEP_GROUP || p->fp->groups[st->group].kind != FG_CONV) continue;
      const ConvSchedule *cs = &p->sched->steps[si].conv;
      IrOp op = p->fp->groups[st->group].mm->op;
      ck_assert_msg(cs->method == CONV_TILED || cases[i].stride != 1, "case %zu: a stride-1 convolution not tiled",
                    i);
      bool want = t.family == FAMILY_AVX512 ? cases[i].flat[op == OP_CONV2D_DATA][0]
                  : t.family == FAMILY_AVX2 ? cases[i].flat[op == OP_CONV2D_DATA][1]
                                            : false;
      ck_assert_msg(cs->flat == want, "case %zu (%s, %s): flat tiles %s", i,
                    op_info[op].name, target_family_name(t.family), cs->flat ? "chosen" : "not chosen");
      convs++;
    }
    ck_assert_int_eq(convs, 2);
    pipeline_plan_free(p);
    arena_free(a);
  }
  target_free(&t);
}
END_TEST

/* A convolution whose input is a view with rows that are not back to back
 * (one row expanded down the plane: row stride 0) runs row tiles, and
 * matches the evaluator. */
START_TEST(convolution_of_expanded_rows) {
  Target t;
  if (!config_target(&configs[_i], &t)) return;
  JitOptions o = {.opt_level = 3, .target = &t};
  Arena *a = arena_new();
  IrGraph *g = ir_graph_new(a, "conv", 0);
  IrWindow win = {.size = {3, 3}, .stride = {1, 1}, .pad = {1, 1, 1, 1}, .dilation = {1, 1}, .groups = 1};
  IrNode *row = ir_input(g, "row", shape_of(4, (int[]){2, 3, 1, 14}));
  IrNode *x = ir_expand(g, row, shape_of(4, (int[]){2, 3, 14, 14}));
  IrNode *w = ir_input(g, "w", shape_of(4, (int[]){5, 3, 3, 3}));
  ir_output(g, "y", ir_binary(g, OP_MUL, ir_window(g, OP_CONV2D, x, w, win, shape_of(4, (int[]){2, 5, 14, 14})),
                              ir_const(g, 2)));
  EXPECT_MATCH(g, 41, 1, NULL, &o);
  arena_free(a);
  target_free(&t);
}
END_TEST

/* Each pool and unpool of each geometry, the pool's source a product so the
 * pool reads a buffer of another kernel, and an elementwise op after it. */
START_TEST(pools_match_evaluator) {
  for (size_t i = 0; i < COUNT_OF(pool_geos); i++) {
    const Geo *c = &pool_geos[i];
    Shape x = shape_of(4, c->x), y = out_shape(c, c->x[1]);
    IrWindow win = window_of(c);
    for (IrOp op = OP_MAX_POOL2D; op <= OP_AVG_UNPOOL2D; op++) {
      Arena *a = arena_new();
      IrGraph *g = ir_graph_new(a, "pool", 0);
      IrNode *in0 = ir_input(g, "a", op == OP_AVG_UNPOOL2D ? y : x), *in1 = ir_input(g, "b", op == OP_MAX_POOL2D ? x : y);
      IrNode *src = ir_binary(g, OP_MUL, in0, ir_const(g, 3));
      IrNode *r = ir_window(g, op, src, op_info[op].arity > 1 ? in1 : NULL, win, x);
      ir_output(g, "r", ir_unary(g, OP_TANH, r));
      EXPECT_MATCH(g, 200 + i * 4 + (size_t)(op - OP_MAX_POOL2D), 1, NULL, &host1);
      arena_free(a);
    }
  }
}
END_TEST

/* A max pool (of a separate value source, and of its own input) and a max
 * unpool alone in their kernels (rows of windows in vectors) at disjoint
 * geometries: rows and columns left over, gaps between windows, rows of
 * several vectors; for each vector family and with units cut mid-plane. */
static const Geo alone_geos[] = {
    {{3, 5, 8, 8}, 0, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0},
    {{2, 3, 9, 7}, 0, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0},
    {{2, 2, 11, 13}, 0, {2, 2}, {3, 3}, {0, 0, 0, 0}, {1, 1}, 0},
    {{1, 3, 5, 70}, 0, {1, 3}, {2, 3}, {0, 0, 0, 0}, {1, 1}, 0},
    {{2, 2, 6, 40}, 0, {3, 2}, {3, 2}, {0, 0, 0, 0}, {1, 1}, 0},
};

START_TEST(max_pools_alone_match_evaluator) {
  const Config *cf = &configs[_i];
  Target t;
  char err[1024];
  if (!config_target(cf, &t)) return;
  Pool *pool = pool_new(cf->threads, err, sizeof err);
  ck_assert_msg(pool != NULL, "%s", err);
  JitOptions o = {.opt_level = 3, .target = &t, .pool = pool, .always_pool = true};
  for (size_t i = 0; i < COUNT_OF(alone_geos); i++) {
    const Geo *c = &alone_geos[i];
    Shape x = shape_of(4, c->x), y = out_shape(c, c->x[1]);
    for (int kind = 0; kind < 3; kind++) {
      Arena *a = arena_new();
      IrGraph *g = ir_graph_new(a, "pools", 0);
      IrNode *in = ir_input(g, "a", x), *r;
      if (kind == 0) r = ir_window(g, OP_MAX_UNPOOL2D, in, ir_input(g, "b", y), window_of(c), x);
      else r = ir_window(g, OP_MAX_POOL2D, in, kind == 1 ? in : ir_input(g, "v", x), window_of(c), x);
      ir_output(g, "r", r);
      FusePlan *fp = fuse_graph(g);
      bool alone = false;
      for (int k = 0; k < fp->ngroups; k++) alone = alone || (fp->groups[k].root == r && fp->groups[k].nmembers == 1);
      fuse_free(fp);
      ck_assert_msg(alone, "the pool is not alone in its kernel");
      EXPECT_MATCH(g, 300 + i * 3 + (size_t)kind, 1, NULL, &o);
      arena_free(a);
    }
  }
  pool_free(pool);
  target_free(&t);
}
END_TEST

/* ---- a small CNN's train step ---- */

static const char *cnn_source =
    "input x : [3, 9, 8]\n"
    "target y : class(4)\n"
    "a = relu(conv2d(x, 4, 3, padding = \"same\"))\n"
    "b = max_pool2d(a, 2)\n"
    "c = conv2d(b, 6, [3, 2], stride = [2, 1], padding = 1, dilation = [1, 2], groups = 2)\n"
    "d = avg_pool2d(batch_norm(c), 2, stride = 1, padding = 1)\n"
    "logits = dense(flatten(dropout(d, 0.25, channels = true)), 4) + dense(global_avg_pool(c), 4)\n"
    "loss cross_entropy(logits, y)\n"
    "optimizer adam(lr = 0.01)\n";

/* Images in [0,1), one-hot targets, small weights, zero state. */
static double cnn_fill(const IrNode *leaf, int64_t e, uint64_t *seed) {
  if (strcmp(leaf->name, "y") == 0) return e % 4 == (e / 4) % 4 ? 1 : 0;
  if (leaf->op == OP_STATE) return 0;
  return leaf->op == OP_PARAM ? jitcmp_rnd(seed, -0.3, 0.3) : jitcmp_rnd(seed, 0, 1);
}

static IrGraph *cnn_step(Arena *a, int batch) {
  return pipeline_graph(compile_model(a, cnn_source), a, PIPE_TRAIN, batch, false);
}

/* Three train steps against the evaluator, per target family and thread count. */
START_TEST(cnn_train_step) {
  const Config *cf = &configs[_i];
  Target t;
  char err[1024];
  if (!config_target(cf, &t)) return;
  Pool *pool = pool_new(cf->threads, err, sizeof err);
  ck_assert_msg(pool != NULL, "%s", err);
  Arena *a = arena_new();
  JitOptions o = {.opt_level = 3, .target = &t, .pool = pool, .always_pool = true};
  EXPECT_MATCH(cnn_step(a, 5), 7, 3, cnn_fill, &o);
  arena_free(a);
  pool_free(pool);
  target_free(&t);
}
END_TEST

/* Every leaf after three steps on `threads` threads (caller frees). */
static float **train(IrGraph *g, int threads, JitGraph **jout) {
  char err[512];
  Pool *pool = pool_new(threads, err, sizeof err);
  ck_assert_msg(pool != NULL, "%s", err);
  JitGraph *j = jit_compile(g, &(JitOptions){.opt_level = 3, .pool = pool, .always_pool = true}, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  int n = jit_nleaves(j);
  float **buf = calloc((size_t)n + 1, sizeof(float *));
  uint64_t seed = 5;
  for (int i = 0; i < n; i++) {
    int64_t k = shape_numel(jit_leaf(j, i)->shape);
    buf[i] = aligned_alloc(64, (size_t)(k + 16) / 16 * 64);
    for (int64_t e = 0; e < k; e++) buf[i][e] = (float)cnn_fill(jit_leaf(j, i), e, &seed);
    jit_bind(j, i, buf[i]);
  }
  for (int step = 0; step < 3; step++) jit_run(j);
  pool_free(pool);
  *jout = j;
  return buf;
}

/* Every weight and optimizer state after three steps of g is bit-identical
 * for 1, 2 and 3 threads. */
static void expect_same_for_threads(IrGraph *g) {
  JitGraph *j1;
  float **one = train(g, 1, &j1);
  for (int threads = 2; threads <= 3; threads++) {
    JitGraph *jn;
    float **many = train(g, threads, &jn);
    for (int i = 0; i < jit_nleaves(j1); i++) {
      const IrNode *leaf = jit_leaf(j1, i);
      ck_assert_msg(memcmp(one[i], many[i], sizeof(float) * (size_t)shape_numel(leaf->shape)) == 0,
                    "%s differs with %d threads", leaf->name, threads);
      free(many[i]);
    }
    free(many);
    jit_free(jn);
  }
  for (int i = 0; i < jit_nleaves(j1); i++) free(one[i]);
  free(one);
  jit_free(j1);
}

/* Threads share out convolutions by image and by filter. */
START_TEST(cnn_threads_bit_identical) {
  Arena *a = arena_new();
  expect_same_for_threads(cnn_step(a, 6));
  arena_free(a);
}
END_TEST

/* At batch 64 a bias gradient sums 64 x 72 values a channel: its row
 * reduction is split by channel over the threads, each channel's sum in
 * one unit, in one order. */
START_TEST(row_reductions_threads_bit_identical) {
  Arena *a = arena_new();
  IrGraph *g = cnn_step(a, 64);
  Target t;
  char err[512];
  ck_assert_msg(target_host(&t, err, sizeof err), "%s", err);
  Planned *p = pipeline_plan(g, &t);
  int split = 0;
  for (int si = 0; si < p->mp->nsteps; si++) {
    const PlanStep *s = &p->mp->steps[si];
    const FuseGroup *G = s->kind == STEP_GROUP ? &p->fp->groups[s->group] : NULL;
    const StepSchedule *ss = &p->sched->steps[si];
    split += G && G->kind == FG_REDUCE && G->rowwise && ss->split == SPLIT_PARALLEL && ss->loops.n == 1 &&
             ss->units == ss->loops.size[0] && ss->grain == 1;   /* one row a unit */
  }
  ck_assert_msg(split > 0, "no row reduction is split over threads");
  pipeline_plan_free(p);
  target_free(&t);
  expect_same_for_threads(g);
  arena_free(a);
}
END_TEST

/* The filter gradient with filters in the lanes splits its filters over
 * units (112 filters: three on AVX-512, fourteen on AVX2): the gradient
 * comes out bit-identical on 1, 2 and 3 threads. */
START_TEST(filter_lanes_threads_bit_identical) {
  Arena *a = arena_new();
  IrGraph *g = ir_graph_new(a, "lanes", 0);
  IrWindow win = {.size = {3, 3}, .stride = {1, 1}, .pad = {1, 1, 1, 1}, .dilation = {1, 1}, .groups = 1};
  Shape x = shape_of(4, (int[]){3, 8, 7, 9}), y = shape_of(4, (int[]){3, 112, 7, 9});
  IrNode *in0 = ir_input(g, "x", x), *in1 = ir_input(g, "g", y);
  ir_output(g, "w", ir_window(g, OP_CONV2D_FILTER, in0, in1, win, shape_of(4, (int[]){112, 8, 3, 3})));
  float *out[3] = {NULL}, *buf[2];
  uint64_t seed = 3;
  for (int i = 0; i < 2; i++) {
    int64_t k = shape_numel(i ? y : x);
    buf[i] = aligned_alloc(64, (size_t)(k + 16) / 16 * 64);
    for (int64_t e = 0; e < k; e++) buf[i][e] = (float)jitcmp_rnd(&seed, -1, 1);
  }
  int64_t n = 112 * 8 * 9;
  for (int threads = 1; threads <= 3; threads++) {
    char err[512];
    Pool *pool = pool_new(threads, err, sizeof err);
    ck_assert_msg(pool != NULL, "%s", err);
    JitGraph *j = jit_compile(g, &(JitOptions){.opt_level = 3, .pool = pool, .always_pool = true}, err, sizeof err);
    ck_assert_msg(j != NULL, "%s", err);
    for (int i = 0; i < jit_nleaves(j); i++) jit_bind(j, i, buf[strcmp(jit_leaf(j, i)->name, "g") == 0]);
    jit_run(j);
    out[threads - 1] = malloc(sizeof(float) * (size_t)n);
    memcpy(out[threads - 1], jit_output(j, "w"), sizeof(float) * (size_t)n);
    ck_assert_msg(threads == 1 || memcmp(out[0], out[threads - 1], sizeof(float) * (size_t)n) == 0,
                  "the filter gradient differs with %d threads", threads);
    jit_free(j);
    pool_free(pool);
  }
  for (int i = 0; i < 3; i++) free(out[i]);
  free(buf[0]), free(buf[1]);
  arena_free(a);
}
END_TEST

/* Bias and ReLU run in the convolution's epilogue, then its max pool image
 * by image; Adam in the weight gradient's epilogue. */
START_TEST(cnn_kernels) {
  Arena *a = arena_new();
  const Model *m = compile_model(a, "input x : [1, 8, 8]\ntarget y : class(3)\n"
                                    "c = max_pool2d(relu(conv2d(x, 4, 3, padding = 1)), 2)\n"
                                    "logits = dense(flatten(c), 3)\nloss cross_entropy(logits, y)\n"
                                    "optimizer adam()\n");
  FusePlan *fp = fuse_graph(pipeline_graph(m, a, PIPE_TRAIN, 4, false));
  bool fwd = false, filter = false;
  for (int i = 0; i < fp->ngroups; i++) {
    const FuseGroup *G = &fp->groups[i];
    if (G->kind != FG_CONV) continue;
    bool relu = false, sub = false;
    for (int k = 0; k < G->nmembers; k++) {
      relu = relu || G->members[k]->op == OP_MAX;
      sub = sub || G->members[k]->op == OP_SUB;
    }
    if (G->mm->op == OP_CONV2D) {
      fwd = relu;
      ck_assert_msg(G->pool && G->pool->op == OP_MAX_POOL2D, "the max pool runs outside the convolution's kernel");
    } else {
      ck_assert_ptr_null(G->pool);
    }
    if (G->mm->op == OP_CONV2D_FILTER) filter = sub;
  }
  ck_assert_msg(fwd, "bias and ReLU not in the convolution's epilogue");
  ck_assert_msg(filter, "Adam not in the weight gradient's epilogue");
  fuse_free(fp);
  arena_free(a);
}
END_TEST

/* Only a max pool whose windows cover each input position at most once,
 * without padding, runs in the convolution's kernel (the row kernel it uses
 * computes no other); an average pool keeps its own kernel. */
START_TEST(cnn_pools_left_alone) {
  static const char *pools[] = {"max_pool2d(a, 3, stride = 2)", "max_pool2d(a, 2, padding = 1)", "avg_pool2d(a, 2)"};
  for (size_t i = 0; i < COUNT_OF(pools); i++) {
    char src[512];
    snprintf(src, sizeof src,
             "input x : [1, 8, 8]\ntarget y : class(3)\na = relu(conv2d(x, 4, 3, padding = 1))\n"
             "logits = dense(flatten(%s), 3)\nloss cross_entropy(logits, y)\n", pools[i]);
    Arena *a = arena_new();
    FusePlan *fp = fuse_graph(pipeline_graph(compile_model(a, src), a, PIPE_FORWARD, 4, false));
    for (int g = 0; g < fp->ngroups; g++) ck_assert_msg(!fp->groups[g].pool, "%s ran in the convolution's kernel", pools[i]);
    fuse_free(fp);
    arena_free(a);
  }
}
END_TEST

/* In evaluation, batch norm is its inference form, a per-channel scale and
 * shift from the running statistics: it joins the bias and the ReLU in the
 * convolution's epilogue, leaving no pass over the feature map of its own,
 * and the fused code matches the evaluator on every target family this host
 * runs. */
static double inference_fill(const IrNode *leaf, int64_t e, uint64_t *seed) {
  if (strstr(leaf->name, "running_var")) return jitcmp_rnd(seed, 0.5, 2);
  if (leaf->op == OP_STATE || leaf->op == OP_PARAM) return jitcmp_rnd(seed, -0.5, 0.5);
  (void)e;
  return jitcmp_rnd(seed, 0, 1);
}

START_TEST(cnn_inference_epilogue) {
  const Config *cf = &configs[_i];
  Target t;
  if (!config_target(cf, &t)) return;
  Arena *a = arena_new();
  const Model *m = compile_model(a, "input x : [3, 9, 8]\ntarget y : class(4)\n"
                                    "c = relu(batch_norm(conv2d(x, 4, 3, padding = \"same\")))\n"
                                    "logits = dense(flatten(max_pool2d(c, 2)), 4)\nloss cross_entropy(logits, y)\n");
  IrGraph *g = pipeline_graph(m, a, PIPE_FORWARD, 5, false);
  FusePlan *fp = fuse_graph(g);
  int conv = -1;
  for (int i = 0; i < fp->ngroups; i++)
    if (fp->groups[i].kind == FG_CONV) conv = i;
  ck_assert_int_ge(conv, 0);
  bool relu = false;
  for (int k = 0; k < fp->groups[conv].nmembers; k++) relu = relu || fp->groups[conv].members[k]->op == OP_MAX;
  ck_assert_msg(relu, "the ReLU is outside the convolution's epilogue");
  /* the running statistics become a per-channel scale and shift (a loop over
   * 4 channels); nothing else loops over the convolution's output */
  for (int i = 0; i < fp->ngroups; i++)
    ck_assert_msg(i == conv || !shape_eq(fp->groups[i].space, fp->groups[conv].space),
                  "kernel %d loops over the convolution's output: batch norm is not in its epilogue", i);
  fuse_free(fp);
  Pool *pool = NULL;
  char err[512];
  if (cf->threads > 1) ck_assert_msg((pool = pool_new(cf->threads, err, sizeof err)) != NULL, "%s", err);
  JitOptions o = {.opt_level = 3, .target = &t, .pool = pool, .always_pool = pool != NULL};
  EXPECT_MATCH(g, 31, 1, inference_fill, &o);
  if (pool) pool_free(pool);
  arena_free(a);
  target_free(&t);
}
END_TEST

Suite *conv_suite(void) {
  Suite *s = suite_create("conv");
  TCase *ops = tcase_create("ops");
  tcase_set_timeout(ops, 240);
  tcase_add_loop_test(ops, convolutions_match_evaluator, 0, 3);   /* the vector families */
  tcase_add_loop_test(ops, flat_tiles_chosen, 0, 3);   /* the vector families */
  tcase_add_loop_test(ops, convolution_of_expanded_rows, 0, 3);
  tcase_add_test(ops, pools_match_evaluator);
  tcase_add_loop_test(ops, max_pools_alone_match_evaluator, 0, (int)COUNT_OF(configs));
  tcase_add_test(ops, cnn_kernels);
  tcase_add_test(ops, cnn_pools_left_alone);
  suite_add_tcase(s, ops);
  TCase *step = tcase_create("step");
  tcase_set_timeout(step, 240);
  tcase_add_loop_test(step, cnn_train_step, 0, (int)COUNT_OF(configs));
  tcase_add_test(step, cnn_threads_bit_identical);
  tcase_add_test(step, row_reductions_threads_bit_identical);
  tcase_add_test(step, filter_lanes_threads_bit_identical);
  tcase_add_loop_test(step, cnn_inference_epilogue, 0, (int)COUNT_OF(configs));
  suite_add_tcase(s, step);
  return s;
}
