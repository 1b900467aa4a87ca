train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/data_short.ckpt --quiet
