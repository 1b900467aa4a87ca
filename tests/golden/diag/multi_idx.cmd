check tests/golden/diag/multi_idx.nn
