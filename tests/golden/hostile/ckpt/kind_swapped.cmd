train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/kind_swapped.ckpt --quiet
