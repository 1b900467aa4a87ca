check tests/golden/diag/syntax_keyword_typo.nn
