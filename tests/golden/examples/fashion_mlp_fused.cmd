ir examples/fashion_mlp.nn --stage=fused
