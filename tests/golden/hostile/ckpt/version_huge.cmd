train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/version_huge.ckpt --quiet
