check tests/golden/diag/wrong_arity.nn
