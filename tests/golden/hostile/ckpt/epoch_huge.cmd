train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_huge.ckpt --quiet
