grad examples/xor.nn --at x=[1,0],y=1 --seed 3
