summary examples/xor.nn
