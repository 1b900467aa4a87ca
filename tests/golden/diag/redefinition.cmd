check tests/golden/diag/redefinition.nn
