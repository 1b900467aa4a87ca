summary tests/golden/hostile/nn/negative_size.nn
