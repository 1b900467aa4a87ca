check tests/golden/diag/shape_broadcast.nn
