train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_base_lr_nan.ckpt --quiet
