/* Unit tests for runtime/rng.c and runtime/init.c: determinism, exact
 * save/restore of the generator, distribution statistics within tolerances
 * wide enough to be stable (fixed seeds) yet tight enough to catch a wrong
 * formula (a factor of 2 in a variance, a biased range), and every IrInit
 * rule. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "init.h"
#include "rng.h"

/* ---- the generator ---- */

START_TEST(test_rng_seed_is_splitmix) {
  /* splitmix64's first output for seed 0 is a published constant */
  Rng r;
  rng_seed(&r, 0);
  ck_assert_uint_eq(r.s[0], 0xE220A8397B1DCDAFull);
}
END_TEST

START_TEST(test_rng_deterministic) {
  Rng a, b, c;
  rng_seed(&a, 42);
  rng_seed(&b, 42);
  rng_seed(&c, 43);
  /* (check's assertions are slow, so loops count and assert once) */
  int same = 0, differ = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = rng_next(&a);
    same += x == rng_next(&b);
    differ += x != rng_next(&c);
  }
  ck_assert_int_eq(same, 1000);
  ck_assert_int_eq(differ, 1000);
}
END_TEST

START_TEST(test_rng_save_restore) {
  Rng r;
  rng_seed(&r, 7);
  for (int i = 0; i < 100; i++) rng_normal(&r);
  Rng saved = r;
  double first[50];
  for (int i = 0; i < 50; i++) first[i] = i % 2 ? rng_normal(&r) : rng_double(&r);
  r = saved;
  for (int i = 0; i < 50; i++) {
    double v = i % 2 ? rng_normal(&r) : rng_double(&r);
    ck_assert(memcmp(&v, &first[i], sizeof v) == 0);
  }
}
END_TEST

START_TEST(test_rng_uniform_range_and_mean) {
  Rng r;
  rng_seed(&r, 1);
  double sum = 0, fsum = 0;
  int n = 200000, outside = 0;
  for (int i = 0; i < n; i++) {
    double d = rng_double(&r);
    float f = rng_float(&r);
    outside += !(d >= 0 && d < 1) + !(f >= 0 && f < 1);
    sum += d;
    fsum += f;
  }
  ck_assert_int_eq(outside, 0);
  ck_assert_double_eq_tol(sum / n, 0.5, 0.005);
  ck_assert_double_eq_tol(fsum / n, 0.5, 0.005);
}
END_TEST

START_TEST(test_rng_below_unbiased) {
  Rng r;
  rng_seed(&r, 2);
  int count[3] = {0};
  for (int i = 0; i < 30000; i++) count[rng_below(&r, 3)]++;
  for (int k = 0; k < 3; k++) ck_assert_int_lt(abs(count[k] - 10000), 400);
  for (int i = 0; i < 100; i++) ck_assert_uint_eq(rng_below(&r, 1), 0);
  /* n = 3 * 2^62: a plain modulo would put half the draws below 2^62
   * instead of a third */
  uint64_t big = 3ull << 62;
  int low = 0, outside = 0;
  for (int i = 0; i < 3000; i++) {
    uint64_t v = rng_below(&r, big);
    outside += v >= big;
    low += v < (1ull << 62);
  }
  ck_assert_int_eq(outside, 0);
  ck_assert_int_lt(abs(low - 1000), 150);
}
END_TEST

START_TEST(test_rng_normal_moments) {
  Rng r;
  rng_seed(&r, 3);
  double s1 = 0, s2 = 0;
  int n = 200000;
  for (int i = 0; i < n; i++) {
    double z = rng_normal(&r);
    s1 += z;
    s2 += z * z;
  }
  ck_assert(isfinite(s2));
  ck_assert_double_eq_tol(s1 / n, 0.0, 0.01);
  ck_assert_double_eq_tol(s2 / n, 1.0, 0.015);
}
END_TEST

START_TEST(test_rng_shuffle_permutation) {
  Rng r;
  rng_seed(&r, 4);
  enum { N = 1000 };
  int a[N], seen[N] = {0};
  for (int i = 0; i < N; i++) a[i] = i;
  rng_shuffle(&r, a, N);
  int moved = 0;
  for (int i = 0; i < N; i++) {
    if (a[i] >= 0 && a[i] < N) seen[a[i]]++;
    moved += a[i] != i;
  }
  for (int i = 0; i < N; i++) ck_assert_int_eq(seen[i], 1);
  ck_assert_int_gt(moved, 900);
  rng_shuffle(&r, a, 0);
  int one = 5;
  rng_shuffle(&r, &one, 1);
  ck_assert_int_eq(one, 5);
}
END_TEST

START_TEST(test_rng_shuffle_uniform) {
  /* all 6 orders of 3 elements, each about 1/6 of the time */
  Rng r;
  rng_seed(&r, 5);
  int count[6] = {0};
  for (int t = 0; t < 60000; t++) {
    int a[3] = {0, 1, 2};
    rng_shuffle(&r, a, 3);
    int code = a[0] * 2 + (a[1] > a[2]);
    count[code]++;
  }
  for (int k = 0; k < 6; k++) ck_assert_int_lt(abs(count[k] - 10000), 400);
}
END_TEST

/* ---- initializers ---- */

typedef struct {
  double mean, var;   /* sample moments */
  float lo, hi;       /* sample range */
} Moments;

static Moments fill_moments(IrInit init, Shape s, uint64_t seed) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.dim[i];
  float *v = malloc(sizeof(float) * (size_t)n);
  Rng r;
  rng_seed(&r, seed);
  init_fill(&init, s, v, &r);
  Moments m = {0, 0, v[0], v[0]};
  for (int64_t i = 0; i < n; i++) {
    m.mean += v[i];
    m.lo = fminf(m.lo, v[i]);
    m.hi = fmaxf(m.hi, v[i]);
  }
  m.mean /= (double)n;
  for (int64_t i = 0; i < n; i++) m.var += (v[i] - m.mean) * (v[i] - m.mean);
  m.var /= (double)n;
  free(v);
  return m;
}

static Shape shape2(int a, int b) { return (Shape){2, {a, b}}; }

START_TEST(test_init_exact_rules) {
  Rng r, before;
  rng_seed(&r, 9);
  before = r;
  float v[6];
  IrInit zeros = {.kind = INIT_ZEROS};
  memset(v, 0xff, sizeof v);
  init_fill(&zeros, shape2(2, 3), v, &r);
  for (int i = 0; i < 6; i++) ck_assert(v[i] == 0.0f);
  IrInit cst = {.kind = INIT_CONST, .a = 0.25};
  init_fill(&cst, shape2(2, 3), v, &r);
  for (int i = 0; i < 6; i++) ck_assert(v[i] == 0.25f);
  static const double vals[6] = {0.5, -1, 2, 3.25, 0, 1e-3};
  IrInit given = {.kind = INIT_VALUES, .values = vals};
  init_fill(&given, shape2(3, 2), v, &r);
  for (int i = 0; i < 6; i++) ck_assert(v[i] == (float)vals[i]);
  IrInit scalar = {.kind = INIT_CONST, .a = 3};
  init_fill(&scalar, (Shape){0, {0}}, v, &r);
  ck_assert(v[0] == 3.0f && v[1] == -1.0f);   /* one element only */
  ck_assert(memcmp(&r, &before, sizeof r) == 0);   /* no draws */
}
END_TEST

START_TEST(test_init_normal) {
  Moments m = fill_moments((IrInit){.kind = INIT_NORMAL, .a = 1.0, .b = 0.5}, shape2(200, 500), 1);
  ck_assert_double_eq_tol(m.mean, 1.0, 0.005);
  ck_assert_double_eq_tol(sqrt(m.var), 0.5, 0.005);
}
END_TEST

START_TEST(test_init_uniform) {
  Moments m = fill_moments((IrInit){.kind = INIT_UNIFORM, .a = -2, .b = 3}, shape2(200, 500), 2);
  ck_assert(m.lo >= -2.0f && m.hi < 3.0f);
  ck_assert(m.lo < -1.99f && m.hi > 2.99f);
  ck_assert_double_eq_tol(m.mean, 0.5, 0.02);
  ck_assert_double_eq_tol(m.var, 25.0 / 12.0, 0.03);
}
END_TEST

START_TEST(test_init_xavier_kaiming) {
  Moments m = fill_moments((IrInit){.kind = INIT_XAVIER}, shape2(300, 200), 3);
  ck_assert_double_eq_tol(m.mean, 0.0, 0.001);
  ck_assert_double_eq_tol(m.var / (2.0 / 500), 1.0, 0.03);
  m = fill_moments((IrInit){.kind = INIT_XAVIER, .fan_in = 10, .fan_out = 30}, shape2(300, 200), 3);
  ck_assert_double_eq_tol(m.var / (2.0 / 40), 1.0, 0.03);
  m = fill_moments((IrInit){.kind = INIT_KAIMING}, shape2(400, 100), 4);
  ck_assert_double_eq_tol(m.mean, 0.0, 0.001);
  ck_assert_double_eq_tol(m.var / (2.0 / 400), 1.0, 0.03);
  m = fill_moments((IrInit){.kind = INIT_KAIMING, .fan_in = 8}, shape2(400, 100), 4);
  ck_assert_double_eq_tol(m.var / (2.0 / 8), 1.0, 0.03);
  /* fans from the first and last of three dimensions */
  m = fill_moments((IrInit){.kind = INIT_XAVIER}, (Shape){3, {50, 40, 150}}, 5);
  ck_assert_double_eq_tol(m.var / (2.0 / 200), 1.0, 0.03);
}
END_TEST

START_TEST(test_init_deterministic) {
  IrInit init = {.kind = INIT_KAIMING};
  float a[64], b[64];
  Rng r1, r2;
  rng_seed(&r1, 11);
  rng_seed(&r2, 11);
  init_fill(&init, shape2(8, 8), a, &r1);
  init_fill(&init, shape2(8, 8), b, &r2);
  ck_assert(memcmp(a, b, sizeof a) == 0);
  init_fill(&init, shape2(8, 8), b, &r2);   /* the stream moved on */
  ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

Suite *rng_suite(void) {
  Suite *s = suite_create("rng");
  TCase *tc = tcase_create("rng");
  tcase_add_test(tc, test_rng_seed_is_splitmix);
  tcase_add_test(tc, test_rng_deterministic);
  tcase_add_test(tc, test_rng_save_restore);
  tcase_add_test(tc, test_rng_uniform_range_and_mean);
  tcase_add_test(tc, test_rng_below_unbiased);
  tcase_add_test(tc, test_rng_normal_moments);
  tcase_add_test(tc, test_rng_shuffle_permutation);
  tcase_add_test(tc, test_rng_shuffle_uniform);
  suite_add_tcase(s, tc);
  TCase *ti = tcase_create("init");
  tcase_add_test(ti, test_init_exact_rules);
  tcase_add_test(ti, test_init_normal);
  tcase_add_test(ti, test_init_uniform);
  tcase_add_test(ti, test_init_xavier_kaiming);
  tcase_add_test(ti, test_init_deterministic);
  suite_add_tcase(s, ti);
  return s;
}
