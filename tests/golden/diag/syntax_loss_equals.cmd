check tests/golden/diag/syntax_loss_equals.nn
