train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/bad_epochs_negative.ckpt --quiet
