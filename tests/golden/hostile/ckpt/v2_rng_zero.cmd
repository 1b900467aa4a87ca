train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_rng_zero.ckpt --quiet
