train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/bad_epochs_past_epoch.ckpt --quiet
