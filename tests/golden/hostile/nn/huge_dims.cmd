summary tests/golden/hostile/nn/huge_dims.nn
