grad examples/fashion_cnn.nn
