train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/count_huge.ckpt --quiet
