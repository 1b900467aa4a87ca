train tests/golden/hostile/data/csv_blank_lines.nn --quiet
