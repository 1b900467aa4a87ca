train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_step_huge.ckpt --quiet
