summary tests/golden/diag/conv_shapes.nn
