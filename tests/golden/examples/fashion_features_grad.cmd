grad examples/fashion_features.nn
