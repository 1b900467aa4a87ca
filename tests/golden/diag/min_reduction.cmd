check tests/golden/diag/min_reduction.nn
