train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/name_nul_first.ckpt --quiet
