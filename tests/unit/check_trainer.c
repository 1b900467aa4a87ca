/* The trainer's train step split at the gradients: its before-update hooks
 * run once per step with every parameter's gradient in store.grad, what they
 * leave there is what the update applies, and without a change the split
 * run ends with the bits of the fused one. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "trainer.h"

/* 10 samples of y = x1 - 2 x2 + 0.5 with a little noise. */
static const char *write_data(void) {
  const char *path = in_tmp("lin.csv");
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  for (int i = 0; i < 10; i++) {
    double x1 = 0.3 * i - 1.2, x2 = 0.17 * (i % 4) - 0.25;
    fprintf(f, "%g,%g,%g\n", x1, x2, x1 - 2 * x2 + 0.5 + 0.01 * (i % 3));
  }
  fclose(f);
  return path;
}

/* A two-layer regression with Adam and clipping (10 samples, batches of 4:
 * two full steps and a partial one per epoch). */
static const Model *model(Arena *a, const char *optimizer) {
  const char *text = arena_printf(a,
                                  "model lin\n"
                                  "input x : [2]\n"
                                  "target y : [1]\n"
                                  "h = tanh(dense(x, 3))\n"
                                  "out = dense(h, 1)\n"
                                  "loss mse(out, y)\n"
                                  "optimizer %s\n"
                                  "train {\n  data = csv(\"%s\")\n  epochs = 3\n  batch = 4\n}\n",
                                  optimizer, write_data());
  return compile_model(a, text);
}

typedef struct {
  int calls;       /* steps the hook saw */
  float factor;    /* every gradient is multiplied by it */
} Scale;

static bool scale_gradients(Trainer *t, void *ctx) {
  Scale *s = ctx;
  s->calls++;
  for (int64_t i = 0; i < t->s.store.param_floats; i++) t->s.store.grad[i] *= s->factor;
  return true;
}

static void train(Trainer *t, const Model *m, bool split) {
  TrainerOptions opt = {.threads = 1, .split = split};
  ck_assert(trainer_init(t, m, "t.nn", &opt));
  ck_assert_int_eq(t->update != NULL, split);
}

/* Doubling then halving every gradient is exact: the weights, the optimizer
 * state and the loss end as in the fused run. */
START_TEST(split_with_hooks_matches_fused) {
  Arena *a = arena_new();
  const Model *m = model(a, "adam(lr = 0.05, clip_norm = 0.5)");
  Trainer fused, split;
  train(&fused, m, false);
  train(&split, m, true);
  Scale twice = {0, 2.0f}, half = {0, 0.5f};
  trainer_hook(&split, TRAINER_BEFORE_UPDATE, scale_gradients, &twice);
  trainer_hook(&split, TRAINER_BEFORE_UPDATE, scale_gradients, &half);
  ck_assert_int_eq(trainer_run(&fused), TRAIN_DONE);
  ck_assert_int_eq(trainer_run(&split), TRAIN_DONE);
  ck_assert_int_eq(twice.calls, 3 * 3);
  ck_assert_int_eq(half.calls, 3 * 3);
  const Store *x = &fused.s.store, *y = &split.s.store;
  ck_assert(memcmp(x->param, y->param, sizeof(float) * (size_t)x->param_floats) == 0);
  ck_assert(memcmp(x->state, y->state, sizeof(float) * (size_t)x->state_floats) == 0);
  ck_assert(fused.last_train.loss == split.last_train.loss);
  trainer_free(&fused);
  trainer_free(&split);
  arena_free(a);
}
END_TEST

/* Gradients a hook zeroes move nothing: plain SGD leaves every weight as it
 * was initialized. */
START_TEST(zeroed_gradients_move_nothing) {
  Arena *a = arena_new();
  const Model *m = model(a, "sgd(lr = 0.1)");
  Trainer t;
  train(&t, m, true);
  float *before = store_snapshot_new(&t.s.store);
  store_snapshot_take(&t.s.store, before);
  Scale zero = {0, 0.0f};
  trainer_hook(&t, TRAINER_BEFORE_UPDATE, scale_gradients, &zero);
  ck_assert_int_eq(trainer_run(&t), TRAIN_DONE);
  ck_assert_int_eq(zero.calls, 9);
  ck_assert(memcmp(before, t.s.store.param, sizeof(float) * (size_t)t.s.store.param_floats) == 0);
  free(before);
  trainer_free(&t);
  arena_free(a);
}
END_TEST

Suite *trainer_suite(void) {
  Suite *s = suite_create("trainer");
  TCase *tc = tcase_create("split");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
  tcase_add_test(tc, split_with_hooks_matches_fused);
  tcase_add_test(tc, zeroed_gradients_move_nothing);
  suite_add_tcase(s, tc);
  return s;
}
