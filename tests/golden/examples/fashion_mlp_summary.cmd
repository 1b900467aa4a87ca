summary examples/fashion_mlp.nn
