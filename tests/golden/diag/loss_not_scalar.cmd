check tests/golden/diag/loss_not_scalar.nn
