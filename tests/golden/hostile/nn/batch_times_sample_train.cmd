train tests/golden/hostile/nn/batch_times_sample.nn
