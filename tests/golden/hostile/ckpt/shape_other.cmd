train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/shape_other.ckpt --quiet
