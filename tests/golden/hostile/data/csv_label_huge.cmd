train tests/golden/hostile/data/csv_label_huge.nn --quiet
