train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/good_mid_epoch.ckpt --quiet
