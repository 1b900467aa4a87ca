train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_steps_3e9.ckpt --quiet
