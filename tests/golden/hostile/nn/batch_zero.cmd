summary tests/golden/hostile/nn/batch_zero.nn
