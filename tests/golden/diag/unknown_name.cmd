check tests/golden/diag/unknown_name.nn
