train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/model_name_nul.ckpt --quiet
