train tests/golden/hostile/data/idx_labels_count.nn --quiet
