check examples/course_graph.nn
