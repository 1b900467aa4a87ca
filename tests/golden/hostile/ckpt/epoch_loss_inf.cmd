train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_loss_inf.ckpt --quiet
