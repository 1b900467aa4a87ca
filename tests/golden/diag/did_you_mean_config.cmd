check tests/golden/diag/did_you_mean_config.nn
