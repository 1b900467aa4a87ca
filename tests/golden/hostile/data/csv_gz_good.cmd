train tests/golden/hostile/data/csv_gz_good.nn --quiet
