train tests/golden/hostile/data/idx_rank_zero.nn --quiet
