check tests/golden/diag/no_loss.nn
