ir examples/fashion_cnn.nn --stage=fused
