frobnicate examples/xor.nn
