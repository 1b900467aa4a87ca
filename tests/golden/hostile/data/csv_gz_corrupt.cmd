train tests/golden/hostile/data/csv_gz_corrupt.nn --quiet
