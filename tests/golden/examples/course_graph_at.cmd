grad examples/course_graph.nn --at a=3,b=1,c=-2
