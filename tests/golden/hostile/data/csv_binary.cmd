train tests/golden/hostile/data/csv_binary.nn --quiet
