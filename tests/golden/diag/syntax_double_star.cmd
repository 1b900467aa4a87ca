check tests/golden/diag/syntax_double_star.nn
