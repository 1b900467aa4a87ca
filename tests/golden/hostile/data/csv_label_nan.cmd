train tests/golden/hostile/data/csv_label_nan.nn --quiet
