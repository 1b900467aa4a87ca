train tests/golden/hostile/data/idx_data_truncated.nn --quiet
