check tests/golden/diag/shape_matmul.nn
