train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/count_zero_with_tensors.ckpt --quiet
