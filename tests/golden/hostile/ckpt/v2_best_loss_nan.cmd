train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/v2_best_loss_nan.ckpt --quiet
