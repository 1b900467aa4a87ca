train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_loss_nan.ckpt --quiet
