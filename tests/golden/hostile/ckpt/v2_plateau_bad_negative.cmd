train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_plateau_bad_negative.ckpt --quiet
