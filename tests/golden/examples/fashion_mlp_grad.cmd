grad examples/fashion_mlp.nn
