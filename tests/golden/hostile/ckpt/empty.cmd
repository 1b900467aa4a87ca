train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/empty.ckpt --quiet
