train tests/golden/hostile/data/idx_count_huge.nn --quiet
