compile tests/golden/cli/compile_long_name.nn -o /nonexistent/x.o
