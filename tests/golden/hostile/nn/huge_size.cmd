summary tests/golden/hostile/nn/huge_size.nn
