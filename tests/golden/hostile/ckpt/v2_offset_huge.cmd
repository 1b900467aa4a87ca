train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_offset_huge.ckpt --quiet
