train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/name_twice.ckpt --quiet
