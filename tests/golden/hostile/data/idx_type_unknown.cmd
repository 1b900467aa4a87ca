train tests/golden/hostile/data/idx_type_unknown.nn --quiet
