/* rng: the runtime's seedable pseudo-random generator.
 *
 * One generator (xoshiro256**, seeded through splitmix64) serves every random
 * choice the runtime makes outside the compiled graph: parameter initializers,
 * the validation split, the per-epoch shuffle.  Its whole state is the four
 * words in Rng, plain data: copying the struct saves it, copying it back
 * restores it, and checkpoints store the four words so that a resumed run
 * draws exactly the numbers the uninterrupted run would have drawn.
 *
 * Every function is deterministic given the state; none keeps a hidden cache
 * (rng_normal draws two uniforms per call instead of saving the spare
 * Box-Muller value), so the state really is all there is.
 */
#ifndef NNC_RNG_H
#define NNC_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];   /* xoshiro256** state; never all zero */
} Rng;

/* Expands a 64-bit seed into a full state (splitmix64); any seed is fine. */
void rng_seed(Rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_double(Rng *r);
/* Uniform in [0, 1) with 24 random bits (every float in the range is exact). */
float rng_float(Rng *r);
/* Uniform integer in [0, n), without modulo bias; n must be > 0. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal N(0, 1) (Box-Muller, two uniforms per call). */
double rng_normal(Rng *r);
/* Uniformly random permutation of a[0..n) in place (Fisher-Yates). */
void rng_shuffle(Rng *r, int *a, int n);

#endif
