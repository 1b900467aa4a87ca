compile tests/golden/hostile/nn/batch_times_sample.nn -o /tmp/nnc-golden-never-written.o
