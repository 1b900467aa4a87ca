grad tests/golden/cli/classify.nn --at y=1
