# A model trained on standardized inputs, compiled with its weights: the object
# exports the training set's statistics, and a C program that standardizes
# with them gets what `nnc predict` gets.  Also: nnc compile refuses to write
# over its own input, to give two outputs one path, and a CPU or feature LLVM
# does not know (which LLVM itself would only warn about).
source "$(dirname "$0")/lib.sh"
model=$ROOT/examples/regression.nn
"$NNC" train "$model" --epochs 20 --quiet --save r.ckpt >/dev/null
"$NNC" compile "$model" --weights r.ckpt -o reg.o >/dev/null
head -n 9 "$ROOT/examples/data/regression.csv" | tail -n 8 | cut -d, -f1-3 >rows.csv
"$NNC" predict "$model" --weights r.ckpt --input rows.csv >want.txt
cat >main.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "reg.h"
int main(void) {
  void *state = aligned_alloc(REGRESSION_STATE_ALIGN, REGRESSION_STATE_BYTES);
  if (!state || regression_init(state, 0) != 0) return 1;
  float x[8 * REGRESSION_SAMPLE_FLOATS], out[8 * REGRESSION_OUTPUT_WIDTH];
  for (int r = 0; r < 8; r++)
    for (int i = 0; i < REGRESSION_SAMPLE_FLOATS; i++) {
      float v;
      if (scanf(i ? ",%f" : "%f", &v) != 1) return 1;
      float sd = regression_input_std[i];
      x[r * REGRESSION_SAMPLE_FLOATS + i] = sd > 0 ? (v - regression_input_mean[i]) / sd : v - regression_input_mean[i];
    }
  if (regression_forward(state, x, 8, out) != 0) return 1;
  for (int r = 0; r < 8; r++) printf("%.9g\n", out[r]);
  free(state);
  return 0;
}
C
cc -std=c11 -Wall -Wextra -Werror main.c reg.o -lm -o main
./main <rows.csv >got.txt
paste want.txt got.txt | awk '{ d = $1 - $2; if (d < 0) d = -d; s = $1 < 0 ? -$1 : $1;
  if (d > 1e-5 + 1e-4 * s) { print "row " NR ": predict " $1 ", object " $2; bad = 1 } } END { exit bad }' ||
  fail "the compiled standardized model disagrees with nnc predict"
status=0
"$NNC" compile "$model" -o "$model" >/dev/null 2>err.txt || status=$?
[[ $status -eq 1 ]] && grep -q "would be written twice" err.txt || fail "compile over its own input was not refused"
cmp -s "$model" <(git -C "$ROOT" show HEAD:examples/regression.nn) || fail "the model file changed"
for bad in "--cpu notacpu" "--features +bogus" "-o same.o --header same.o"; do
  status=0
  # shellcheck disable=SC2086
  "$NNC" compile "$ROOT/examples/xor.nn" -o x.o $bad >/dev/null 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "nnc compile $bad: exit status $status, expected 1 ($(cat err.txt))"
  grep -q "not a recognized\|would be written twice" err.txt || fail "nnc compile $bad: $(cat err.txt)"
done
ls x.o* same.o* 2>/dev/null && fail "a refused compile left files behind"
echo "standardized model: object = nnc predict on $(wc -l <got.txt) rows"
