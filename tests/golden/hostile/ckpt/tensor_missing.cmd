train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/tensor_missing.ckpt --quiet
