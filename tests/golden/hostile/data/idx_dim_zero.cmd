train tests/golden/hostile/data/idx_dim_zero.nn --quiet
