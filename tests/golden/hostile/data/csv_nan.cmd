train tests/golden/hostile/data/csv_nan.nn --quiet
