summary examples/regression.nn
