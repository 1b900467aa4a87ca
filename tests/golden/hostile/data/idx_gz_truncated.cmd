train tests/golden/hostile/data/idx_gz_truncated.nn --quiet
