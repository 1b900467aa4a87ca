grad examples/xor.nn --input-grads
