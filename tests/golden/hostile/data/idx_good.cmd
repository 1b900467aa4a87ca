train tests/golden/hostile/data/idx_good.nn --quiet
