check tests/golden/diag/multi_csv.nn
