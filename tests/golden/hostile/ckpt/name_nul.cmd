train tests/golden/hostile/tiny.nn --init tests/golden/hostile/ckpt/name_nul.ckpt --quiet
