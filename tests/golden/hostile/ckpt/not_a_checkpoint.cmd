train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/not_a_checkpoint.ckpt --quiet
