train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/trailing_data.ckpt --quiet
