compile tests/golden/cli/compile_case_clash.nn -o /nonexistent/x.o
