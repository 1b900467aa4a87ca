train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_unused_bytes.ckpt --quiet
