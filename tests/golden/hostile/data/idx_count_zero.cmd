train tests/golden/hostile/data/idx_count_zero.nn --quiet
