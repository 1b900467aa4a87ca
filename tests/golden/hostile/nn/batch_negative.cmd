summary tests/golden/hostile/nn/batch_negative.nn
