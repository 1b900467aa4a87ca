train tests/golden/hostile/data/idx_float64_inf.nn --quiet
