train tests/golden/hostile/data/csv_nul_in_field.nn --quiet
