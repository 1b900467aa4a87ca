train tests/golden/hostile/data/csv_gz_truncated.nn --quiet
