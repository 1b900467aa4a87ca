check tests/golden/diag/bce_class_target.nn
