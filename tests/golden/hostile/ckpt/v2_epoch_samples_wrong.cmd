train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_epoch_samples_wrong.ckpt --quiet
