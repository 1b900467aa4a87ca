train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/step_huge.ckpt --quiet
