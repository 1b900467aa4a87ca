check tests/golden/diag/bad_values.nn
