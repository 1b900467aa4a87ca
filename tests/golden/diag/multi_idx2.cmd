check tests/golden/diag/multi_idx2.nn
