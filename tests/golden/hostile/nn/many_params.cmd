ir tests/golden/hostile/nn/many_params.nn --stage=fused
