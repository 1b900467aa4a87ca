train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_kind_swapped.ckpt --quiet
