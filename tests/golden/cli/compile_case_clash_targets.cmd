compile tests/golden/cli/compile_case_clash_targets.nn -o /nonexistent/x.o
