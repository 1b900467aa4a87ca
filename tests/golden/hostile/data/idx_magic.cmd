train tests/golden/hostile/data/idx_magic.nn --quiet
