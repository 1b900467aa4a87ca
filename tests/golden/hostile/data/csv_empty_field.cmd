train tests/golden/hostile/data/csv_empty_field.nn --quiet
