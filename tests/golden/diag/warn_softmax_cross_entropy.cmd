summary tests/golden/diag/warn_softmax_cross_entropy.nn
