# nnc build.  `make` builds ./nnc; `make test` builds the sanitized test build
# and runs every check suite, golden test, end-to-end test and fuzz corpus;
# `make fuzz` fuzzes (clang-19); `make valgrind` runs the end-to-end tests
# under valgrind; `make bench` measures speed against PyTorch, OpenBLAS and
# this CPU's FMA peak (bench/bench.c says how; `make bench BENCH_RUNS=5` takes
# the best of 5, BENCH_ONLY=gemm,xor runs a part).
#
# Sources are found by wildcard: a new compiler/*.c, runtime/*.c or
# tests/unit/check_NAME.c (defining `Suite *NAME_suite(void)`) needs no edit here.
# Basenames are unique across those folders (objects share one directory).

LLVM_CONFIG ?= llvm-config-19
CC          ?= cc
RE2C        ?= re2c
BISON       ?= bison
B           := build
BB          := $(B)/bench

LLVM_CFLAGS := $(shell $(LLVM_CONFIG) --cflags)
LLVM_LIBS   := $(shell $(LLVM_CONFIG) --ldflags --libs core orcjit native passes) $(shell $(LLVM_CONFIG) --system-libs)
# ./nnc links LLVM's static libraries (llvm-19-dev ships them), every target
# (`nnc compile --target` takes any), and is not position-independent: loading
# libLLVM.so cost every nnc process about 40 ms before main (its 350,000
# relocations and the pages they write), `nnc --version` 72 -> 25-28 ms
# (docs/backend.md).  libstdc++ is linked statically too: shared, each of
# LLVM's ~6,000 type-info objects needed a relocation against it at start,
# a copied page each (`nnc --version` 28-31 -> 18-19 ms).  zstd is linked
# through the library libLLVM itself needs (no -dev package); z3 and libxml2
# are not used by these components.
# The sanitizer and bench builds keep the shared library, which links faster.
# `make LLVM_STATIC=0` links ./nnc like them.
LLVM_STATIC ?= 1
ifeq ($(LLVM_STATIC),1)
NNC_LLVM_LIBS := $(shell $(LLVM_CONFIG) --ldflags --link-static --libs core orcjit native passes all-targets) \
                 $(filter-out -lzstd -lxml2 %libz3.so,$(shell $(LLVM_CONFIG) --link-static --system-libs)) \
                 -l:libzstd.so.1 -Wl,-Bstatic -lstdc++ -Wl,-Bdynamic
NNC_LDFLAGS   := -no-pie
else
NNC_LLVM_LIBS := $(LLVM_LIBS)
endif
CHECK_CFLAGS := $(shell pkg-config --cflags check)
CHECK_LIBS   := $(shell pkg-config --libs check)
# nnc finds cairo when it first draws (runtime/cairo_api.h), so that its
# libraries cost no start-up; only the unit tests link it (check_plot reads
# the pictures back).
CAIRO_CFLAGS := $(shell pkg-config --cflags cairo)
CAIRO_LIBS   := $(shell pkg-config --libs cairo)

# MPI (data-parallel training, docs/distributed.md): on when mpicc (Debian's
# libopenmpi-dev) is found; `make MPI=0` builds an nnc without it, which
# refuses to run under mpirun.  Only dist.c sees mpi.h; a change of MPI
# rebuilds it (build/gen/mpi.flag).
MPI ?= $(if $(shell command -v mpicc),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := -DNNC_MPI $(shell mpicc --showme:compile)
MPI_LIBS   := $(shell mpicc --showme:link)
endif

WARN     := -Wall -Wextra -Werror
CPPFLAGS := -Icompiler -Iruntime -I$(B)/gen
CSTD     := -std=c11
REL_CFLAGS := $(CSTD) $(WARN) -O2 -g $(LLVM_CFLAGS) $(CAIRO_CFLAGS)
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := $(CSTD) $(WARN) -O1 -g $(SAN_FLAGS) $(LLVM_CFLAGS) $(CAIRO_CFLAGS)
LDLIBS     := $(LLVM_LIBS) $(MPI_LIBS) -lz -lm -lpthread

LIB_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c runtime/*.c))
GEN_SRC := $(B)/gen/lex.c $(B)/gen/parse.c
TEST_SRC := $(wildcard tests/unit/check_*.c)
SUITES  := $(patsubst tests/unit/check_%.c,%,$(TEST_SRC))

rel_obj = $(patsubst %.c,$(B)/rel/%.o,$(notdir $(1)))
san_obj = $(patsubst %.c,$(B)/san/%.o,$(notdir $(1)))
REL_LIB_OBJ := $(call rel_obj,$(LIB_SRC) $(GEN_SRC))
SAN_LIB_OBJ := $(call san_obj,$(LIB_SRC) $(GEN_SRC))
SAN_TEST_OBJ := $(call san_obj,$(wildcard tests/unit/*.c))

HEADERS := $(wildcard compiler/*.h runtime/*.h compiler/*.def) $(B)/gen/parse.h

vpath %.c compiler runtime tests/unit tests/fuzz $(B)/gen

# Fuzzing (docs/reliability.md): each tests/fuzz/fuzz_NAME.c is a libFuzzer
# harness.  `make fuzz` builds them with clang-19 (coverage, ASan, UBSan) and
# runs each for FUZZ_SECONDS on a copy of its corpus (FUZZ_FINDINGS=report:
# a crash found by fuzzing is reported, not a failure; tests/fuzz/run.sh);
# `make test` replays every corpus through every harness with the sanitized
# build (replay.c), so no clang is needed there.
FUZZ_CC       ?= clang-19
FUZZ_SECONDS  ?= 60
FUZZ_FINDINGS ?= fail
FUZZERS      := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS  := $(CSTD) $(WARN) -Wno-missing-field-initializers -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
                $(LLVM_CFLAGS) $(CAIRO_CFLAGS)
fuzz_obj = $(patsubst %.c,$(B)/fuzz/%.o,$(notdir $(1)))
FUZZ_LIB_OBJ := $(call fuzz_obj,$(LIB_SRC) $(GEN_SRC))
REPLAYS      := $(patsubst %,$(B)/san/replay_%,$(FUZZERS))

.PHONY: all test bench clean fuzz valgrind
all: nnc

nnc: $(B)/rel/main.o $(B)/rel/libnnc.a $(B)/gen/link.flag
	$(CC) $(REL_CFLAGS) $(NNC_LDFLAGS) -o $@ $(filter-out %.flag,$^) $(NNC_LLVM_LIBS) $(MPI_LIBS) -lz -lm -lpthread

$(B)/san/nnc: $(B)/san/main.o $(B)/san/libnnc.a
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/san/unit_tests: $(SAN_TEST_OBJ) $(B)/san/libnnc.a
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS) $(CAIRO_LIBS)

$(B)/rel/libnnc.a: $(REL_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/san/libnnc.a: $(SAN_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/rel/%.o: %.c $(HEADERS) | $(B)/rel
	$(CC) $(REL_CFLAGS) $(CPPFLAGS) -c -o $@ $<
$(B)/san/%.o: %.c $(HEADERS) $(B)/gen/suites.h | $(B)/san
	$(CC) $(SAN_CFLAGS) $(CPPFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(B)/rel/dist.o $(B)/san/dist.o $(B)/fuzz/dist.o: $(B)/gen/mpi.flag
$(B)/rel/dist.o: REL_CFLAGS += $(MPI_CFLAGS)
$(B)/san/dist.o: SAN_CFLAGS += $(MPI_CFLAGS)
$(B)/fuzz/dist.o: FUZZ_CFLAGS += $(MPI_CFLAGS)
$(B)/gen/mpi.flag: FORCE | $(B)/gen
	@echo 'MPI=$(MPI)' | cmp -s - $@ || echo 'MPI=$(MPI)' > $@
# a change of LLVM_STATIC, MPI or ./nnc's libraries relinks it
LINK_FLAG := LLVM_STATIC=$(LLVM_STATIC) MPI=$(MPI) $(NNC_LLVM_LIBS)
$(B)/gen/link.flag: FORCE | $(B)/gen
	@echo '$(LINK_FLAG)' | cmp -s - $@ || echo '$(LINK_FLAG)' > $@
.PHONY: FORCE

# Generated sources live in build/gen, never in git.
$(B)/gen/lex.c: compiler/lex.re $(B)/gen/parse.h | $(B)/gen
	$(RE2C) -W --no-generation-date -o $@ $<
$(B)/gen/parse.c $(B)/gen/parse.h &: compiler/parse.y | $(B)/gen
	$(BISON) -Wall -Werror --header=$(B)/gen/parse.h -o $(B)/gen/parse.c $<
$(B)/gen/suites.h: $(TEST_SRC) | $(B)/gen
	printf '%s\n' $(foreach s,$(SUITES),'SUITE($(s))') > $@.tmp && mv $@.tmp $@

$(B)/rel $(B)/san $(B)/gen $(B)/fuzz $(BB):
	mkdir -p $@

$(B)/san/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/common.c tests/fuzz/fuzz.h $(B)/san/libnnc.a
	$(CC) $(SAN_CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

$(B)/fuzz/%.o: %.c $(HEADERS) tests/fuzz/fuzz.h | $(B)/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(CPPFLAGS) -c -o $@ $<
$(B)/fuzz/parse.o: FUZZ_CFLAGS += -Wno-unused-but-set-variable   # Bison's yynerrs, under clang
.PRECIOUS: $(B)/fuzz/%.o
$(B)/fuzz/libnnc.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/fuzz/fuzz_%: $(B)/fuzz/fuzz_%.o $(B)/fuzz/common.o $(B)/fuzz/libnnc.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

test: $(B)/san/nnc $(B)/san/unit_tests nnc $(REPLAYS)
	@bash tests/run.sh $(B)/san/unit_tests $(B)/san/nnc nnc

fuzz: $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZERS))
	@FUZZ_FINDINGS=$(FUZZ_FINDINGS) bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

# Every end-to-end test with the release build under valgrind's memcheck
# (slow: on request, not in CI).
valgrind: nnc
	@bash tests/valgrind.sh

# The bench tools (bench/*.c, our own code): the FMA peak probe is built for
# this very CPU; gemm links libnnc.a and loads OpenBLAS itself at run time;
# xor_loop links the object `nnc compile` writes; bench runs them all.
BENCH_RUNS ?= 3
BENCH_TOOLS := $(BB)/bench $(BB)/peak $(BB)/gemm $(BB)/xor_loop
BENCH_DRIVER := bench/bench.c bench/model.c bench/mlp.c bench/tools.c bench/proc.c bench/table.c bench/cnn.c bench/dist.c

bench: nnc $(BENCH_TOOLS)
	@$(BB)/bench --runs $(BENCH_RUNS) $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

$(BB)/bench: $(BENCH_DRIVER) $(wildcard bench/*.h) | $(BB)
	$(CC) $(CSTD) $(WARN) -O2 -o $@ $(BENCH_DRIVER) -ldl -lm
$(BB)/peak: bench/peak.c | $(BB)
	$(CC) $(CSTD) $(WARN) -O2 -march=native -pthread -o $@ $<
$(BB)/gemm: bench/gemm.c $(B)/rel/libnnc.a $(HEADERS) | $(BB)
	$(CC) $(REL_CFLAGS) $(CPPFLAGS) -o $@ $< $(B)/rel/libnnc.a $(LDLIBS) -ldl
$(BB)/xor.o: nnc examples/xor.nn | $(BB)
	./nnc compile examples/xor.nn -o $@ --header $(BB)/xor.h
$(BB)/xor_loop: bench/xor_loop.c $(BB)/xor.o
	$(CC) $(CSTD) $(WARN) -O2 -I$(BB) -o $@ $< $(BB)/xor.o -lm

clean:
	rm -rf $(B) nnc
