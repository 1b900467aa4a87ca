train tests/golden/hostile/data/csv_inf.nn --quiet
