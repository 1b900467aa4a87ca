ir tests/golden/hostile/nn/wide.nn --stage=fused --batch 1048576
