train tests/golden/hostile/data/csv_gz_header_only.nn --quiet
