train tests/golden/hostile/data/csv_label_negative.nn --quiet
