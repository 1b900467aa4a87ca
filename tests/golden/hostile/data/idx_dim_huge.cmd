train tests/golden/hostile/data/idx_dim_huge.nn --quiet
