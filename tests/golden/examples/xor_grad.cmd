grad examples/xor.nn
