train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/rng_zero.ckpt --quiet
