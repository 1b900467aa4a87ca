train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/dim_negative.ckpt --quiet
