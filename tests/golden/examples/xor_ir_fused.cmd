ir examples/xor.nn --stage=fused
