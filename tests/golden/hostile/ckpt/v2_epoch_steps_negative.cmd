train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_epoch_steps_negative.ckpt --quiet
