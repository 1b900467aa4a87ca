summary tests/golden/hostile/nn/split_nan.nn
