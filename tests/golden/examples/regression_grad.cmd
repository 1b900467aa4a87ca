grad examples/regression.nn
