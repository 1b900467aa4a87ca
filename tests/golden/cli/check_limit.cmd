check examples/course_chain.nn --limit 3
