train tests/golden/hostile/data/idx_gz_good.nn --quiet
