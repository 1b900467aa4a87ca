train tests/golden/hostile/data/idx_label_out_of_range.nn --quiet
