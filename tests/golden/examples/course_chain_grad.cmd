grad examples/course_chain.nn
