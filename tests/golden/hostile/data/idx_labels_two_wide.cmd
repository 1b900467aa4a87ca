train tests/golden/hostile/data/idx_labels_two_wide.nn --quiet
