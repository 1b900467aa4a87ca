summary tests/golden/hostile/nn/epochs_huge.nn
