train examples/xor.nn --epochs=0
