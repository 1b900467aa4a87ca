train tests/golden/hostile/data/idx_gz_corrupt.nn --quiet
