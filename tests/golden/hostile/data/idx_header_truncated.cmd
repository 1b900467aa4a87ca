train tests/golden/hostile/data/idx_header_truncated.nn --quiet
