compile tests/golden/hostile/tiny.nn --weights tests/golden/hostile/ckpt/dims_overflow.ckpt -o /tmp/nnc-golden-never-written.o
