train tests/golden/hostile/tiny.nn --resume tests/golden/hostile/ckpt/truncated_header.ckpt --quiet
