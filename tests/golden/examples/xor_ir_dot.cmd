ir examples/xor.nn --dot
