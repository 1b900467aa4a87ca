train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/best_missing.ckpt --quiet
