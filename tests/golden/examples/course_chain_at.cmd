grad examples/course_chain.nn --at x=0.5,y=1
