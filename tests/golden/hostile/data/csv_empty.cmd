train tests/golden/hostile/data/csv_empty.nn --quiet
