/* rng: xoshiro256** with splitmix64 seeding, and the distributions built on it.
 *
 * xoshiro256** passes the usual statistical batteries, costs a handful of
 * shifts and multiplies per 64 bits, and has a 256-bit state, which is small
 * enough to checkpoint.  splitmix64 turns a user seed (often 0, 1, 42) into a
 * well-mixed state; it cannot produce four zero words in a row, which is the
 * one state xoshiro must avoid.
 */
#include "rng.h"

#include <assert.h>
#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(Rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t rng_next(Rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rng_double(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

float rng_float(Rng *r) { return (float)(rng_next(r) >> 40) * 0x1.0p-24f; }

/* Rejection: values below 2^64 mod n would make the low residues one draw more
 * likely than the others, so they are redrawn (at most half the range, so
 * fewer than two draws are needed on average). */
uint64_t rng_below(Rng *r, uint64_t n) {
  assert(n > 0);
  uint64_t threshold = (0 - n) % n;
  for (;;) {
    uint64_t x = rng_next(r);
    if (x >= threshold) return x % n;
  }
}

static const double TWO_PI = 6.283185307179586476925286766559;

/* Box-Muller: 1 - u lies in (0, 1], so the logarithm is always finite. */
double rng_normal(Rng *r) {
  double u = 1.0 - rng_double(r);
  double v = rng_double(r);
  return sqrt(-2.0 * log(u)) * cos(TWO_PI * v);
}

void rng_shuffle(Rng *r, int *a, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)rng_below(r, (uint64_t)i + 1);
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
