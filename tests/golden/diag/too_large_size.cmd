check tests/golden/diag/too_large_size.nn
