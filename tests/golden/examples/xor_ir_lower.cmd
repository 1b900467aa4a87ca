ir examples/xor.nn --stage=lower
