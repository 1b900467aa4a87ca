summary examples/fashion_cnn.nn
