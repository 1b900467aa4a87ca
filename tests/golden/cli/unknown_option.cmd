train examples/xor.nn --epoch 3
