train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/rank_255.ckpt --quiet
