summary tests/golden/diag/warn_sigmoid_bce.nn
