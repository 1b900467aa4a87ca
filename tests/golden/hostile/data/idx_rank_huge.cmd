train tests/golden/hostile/data/idx_rank_huge.nn --quiet
