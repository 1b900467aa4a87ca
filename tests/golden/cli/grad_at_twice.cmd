grad tests/golden/cli/classify.nn --at x=1,y=0,x=2
