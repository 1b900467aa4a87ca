train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/version_0.ckpt --quiet
