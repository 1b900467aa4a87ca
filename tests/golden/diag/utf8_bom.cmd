check tests/golden/diag/utf8_bom.nn
