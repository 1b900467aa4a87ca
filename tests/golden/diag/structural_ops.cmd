check tests/golden/diag/structural_ops.nn
