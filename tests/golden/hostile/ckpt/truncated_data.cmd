train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/truncated_data.ckpt --quiet
