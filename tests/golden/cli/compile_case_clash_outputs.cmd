compile tests/golden/cli/compile_case_clash_outputs.nn -o /nonexistent/x.o
