summary examples/course_graph.nn
