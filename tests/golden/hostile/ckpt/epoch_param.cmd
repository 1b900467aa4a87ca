train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_param.ckpt --quiet
