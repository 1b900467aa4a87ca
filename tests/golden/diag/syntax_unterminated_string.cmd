check tests/golden/diag/syntax_unterminated_string.nn
