check tests/golden/diag/syntax_keyword_as_name.nn
