# Names in a compiled model's header: a tensor named like an entry point's own
# parameter (state, n), a keyword of C, GNU C or C++, or a macro of the
# headers it includes gets a '_' appended in the prototypes, one the
# implementation keeps (__x, _X) a 'p' in front, and the header compiles as
# C11, GNU C and C++.  Names that would define one macro twice (differing only
# in case) or are too long are refused: tests/golden/cli/compile_*.
source "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || { echo "skipped: no C compiler"; exit 0; }
cat >names.nn <<'EOF'
input  state : [3]
input  n : [2]
input  n_ : [1]
input  NULL : [1]
input  SIZE_MAX : [1]
input  __x : [1]
input  _X : [1]
input  new : [1]
target class : []
target int : []
a = dense(state, 1) + dense(n, 1) + dense(n_, 1) + dense(NULL, 1) + dense(SIZE_MAX, 1) + dense(__x, 1) + dense(_X, 1) + dense(new, 1)
b = dense(a, 1)
loss mse(a, class) + mse(b, int)
optimizer sgd(lr = 0.01)
EOF
"$NNC" compile names.nn -o names.o >/dev/null
want='int names_forward(void *state, const float *state_, const float *n__, const float *n_, const float *NULL_, const float *SIZE_MAX_, const float *p__x, const float *p_X, const float *new_, int n, float *a, float *b);'
[[ $(grep '^int names_forward(' names.h) == "$want" ]] || fail "forward's prototype: $(grep '_forward(' names.h)"
grep -q '^float names_train_step(void \*state, .*const float \*new_, const float \*class_, const float \*int_);$' names.h ||
  fail "train_step's prototype: $(grep '_train_step(' names.h)"
printf '#include <stddef.h>\n#include <stdint.h>\n#include "names.h"\n' >names.c
cc -std=c11 -Wall -Wextra -Werror -pedantic -I. -c names.c -o c11.o || fail "names.h is not C11"
cc -Wall -Wextra -Werror -I. -c names.c -o gnu.o || fail "names.h is not GNU C"
if command -v c++ >/dev/null; then
  cp names.c names.cc
  c++ -Wall -Wextra -Werror -I. -c names.cc -o cxx.o || fail "names.h is not C++"
fi
echo "header names: reserved ones renamed, the header compiles as C11, GNU C$(command -v c++ >/dev/null && echo ' and C++')"
