summary tests/golden/hostile/nn/batch_huge.nn
