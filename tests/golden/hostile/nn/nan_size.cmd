summary tests/golden/hostile/nn/nan_size.nn
