train tests/golden/hostile/data/csv_long_field.nn --quiet
