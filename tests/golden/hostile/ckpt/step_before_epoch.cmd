train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/step_before_epoch.ckpt --quiet
