summary tests/golden/hostile/nn/zero_size.nn
