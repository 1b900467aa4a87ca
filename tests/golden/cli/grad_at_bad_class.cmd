grad tests/golden/cli/classify.nn --at x=[1,2],y=3
