train tests/golden/hostile/data/idx_float_nan.nn --quiet
