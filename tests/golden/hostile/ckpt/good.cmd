train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/good.ckpt --quiet
