train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_dims_overflow.ckpt --quiet
