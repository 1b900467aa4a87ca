grad examples/course_graph.nn
