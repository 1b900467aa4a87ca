train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_batch_negative.ckpt --quiet
