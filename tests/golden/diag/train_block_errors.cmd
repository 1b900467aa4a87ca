check tests/golden/diag/train_block_errors.nn
