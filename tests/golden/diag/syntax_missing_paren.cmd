check tests/golden/diag/syntax_missing_paren.nn
