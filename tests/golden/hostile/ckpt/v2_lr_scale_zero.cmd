train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_lr_scale_zero.ckpt --quiet
