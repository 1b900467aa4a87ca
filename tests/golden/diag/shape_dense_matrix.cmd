check tests/golden/diag/shape_dense_matrix.nn
