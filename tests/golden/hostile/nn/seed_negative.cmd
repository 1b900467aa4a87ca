summary tests/golden/hostile/nn/seed_negative.nn
