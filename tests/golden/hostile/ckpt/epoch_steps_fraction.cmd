train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_steps_fraction.ckpt --quiet
