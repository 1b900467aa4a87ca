check tests/golden/diag/shape_loss_mismatch.nn
