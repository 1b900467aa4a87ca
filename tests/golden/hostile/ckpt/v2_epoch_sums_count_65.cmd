train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_epoch_sums_count_65.ckpt --quiet
