train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_offset_unaligned.ckpt --quiet
