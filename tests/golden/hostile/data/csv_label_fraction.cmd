train tests/golden/hostile/data/csv_label_fraction.nn --quiet
