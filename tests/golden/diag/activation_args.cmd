check tests/golden/diag/activation_args.nn
