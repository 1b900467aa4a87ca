train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/size_zero.ckpt --quiet
