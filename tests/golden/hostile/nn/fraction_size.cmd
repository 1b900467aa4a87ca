summary tests/golden/hostile/nn/fraction_size.nn
