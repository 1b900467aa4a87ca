grad tests/golden/cli/classify.nn --at x=1 --dot
