ir tests/golden/hostile/nn/many_values.nn --stage=fused
