check tests/golden/diag/syntax_unclosed_train.nn
