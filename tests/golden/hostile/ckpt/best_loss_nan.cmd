train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/best_loss_nan.ckpt --quiet
