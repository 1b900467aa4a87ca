summary examples/fashion_features.nn
