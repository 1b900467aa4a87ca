summary examples/course_chain.nn
