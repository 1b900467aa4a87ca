check tests/golden/diag/min_reduction.nn --tol 1e-12
