summary tests/golden/hostile/nn/epochs_negative.nn
