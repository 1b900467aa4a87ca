grad examples/course_graph.nn --at a=3,d=1
