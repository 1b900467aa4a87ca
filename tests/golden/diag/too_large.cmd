check tests/golden/diag/too_large.nn
