train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_batch_other.ckpt --quiet
