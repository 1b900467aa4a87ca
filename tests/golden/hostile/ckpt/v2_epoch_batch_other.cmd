train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_epoch_batch_other.ckpt --quiet
