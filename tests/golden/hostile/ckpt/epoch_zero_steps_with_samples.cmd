train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_zero_steps_with_samples.ckpt --quiet
