train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/dims_huge.ckpt --quiet
