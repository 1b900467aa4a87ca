check tests/golden/diag/syntax_bad_char.nn
