train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/name_empty.ckpt --quiet
