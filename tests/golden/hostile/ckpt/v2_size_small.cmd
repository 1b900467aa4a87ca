train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_size_small.ckpt --quiet
