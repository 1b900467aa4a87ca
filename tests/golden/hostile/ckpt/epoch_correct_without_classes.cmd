train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/epoch_correct_without_classes.ckpt --quiet
