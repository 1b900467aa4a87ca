grad tests/golden/cli/classify.nn --at x=[1,2],y=2,h.w=[[1,0,0],[0,1,0]] --input-grads
