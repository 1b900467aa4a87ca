train tests/golden/hostile/data/idx_empty.nn --quiet
