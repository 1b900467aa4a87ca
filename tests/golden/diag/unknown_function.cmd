check tests/golden/diag/unknown_function.nn
