check tests/golden/diag/shape_cross_entropy.nn
