predict tests/golden/hostile/tiny.nn --weights tests/golden/hostile/ckpt/crc_wrong.ckpt --input tests/golden/hostile/tiny.csv
