check tests/golden/diag/failed_declaration.nn
