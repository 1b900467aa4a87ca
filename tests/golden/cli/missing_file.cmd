summary examples/missing.nn
