train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_dims_huge.ckpt --quiet
