ir tests/golden/diag/layer_naming.nn --stage=lower
