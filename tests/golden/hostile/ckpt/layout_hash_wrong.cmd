train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/layout_hash_wrong.ckpt --quiet
