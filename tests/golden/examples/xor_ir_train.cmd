ir examples/xor.nn --stage=train
