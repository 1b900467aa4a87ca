ir examples/xor.nn --stage=simplified
