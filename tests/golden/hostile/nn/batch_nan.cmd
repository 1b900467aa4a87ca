summary tests/golden/hostile/nn/batch_nan.nn
