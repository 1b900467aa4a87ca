grad examples/course_chain.nn --raw
