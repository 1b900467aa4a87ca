train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/size_huge.ckpt --quiet
