grad examples/xor.nn --at x=[1e40,0]
