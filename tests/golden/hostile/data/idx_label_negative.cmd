train tests/golden/hostile/data/idx_label_negative.nn --quiet
