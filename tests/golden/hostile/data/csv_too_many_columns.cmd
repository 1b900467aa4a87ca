train tests/golden/hostile/data/csv_too_many_columns.nn --quiet
