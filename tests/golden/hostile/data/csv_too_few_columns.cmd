train tests/golden/hostile/data/csv_too_few_columns.nn --quiet
