train tests/golden/hostile/data/csv_good.nn --quiet
