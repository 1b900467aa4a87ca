check tests/golden/diag/unknown_named_arg.nn
