train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_name_nul.ckpt --quiet
