train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_tensor_missing.ckpt --quiet
