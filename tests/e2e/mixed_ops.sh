# The new activations and structural ops train and compile.
# examples/regression_mix.nn (gelu, softplus, silu, concat) trains: its
# training loss falls to a tenth and its validation loss ends far below the
# target's variance.  A second model adds slice, transpose, min, selu and the
# tanh gelu.  Each, compiled with its weights into an object linked with libc
# and libm only, gives `nnc predict`'s values to a C program that
# standardizes its inputs.
source "$(dirname "$0")/lib.sh"
cp "$ROOT/examples/data/regression.csv" reg.csv
sed 's#"data/regression.csv"#"reg.csv"#' "$ROOT/examples/regression_mix.nn" >regression_mix.nn
cat >shapes_mix.nn <<'NN'
model shapes_mix
input  x : [3]
target y : []
t    = transpose(reshape(selu(dense(x, 12)), [3, 4]))
z    = concat(flatten(slice(t, 1, 3)), min(t, axis = 1), x)
pred = dense(gelu(dense(z, 16), approximate = "tanh"), 1)
loss mse(pred, y)
optimizer adam(lr = 0.01)
train { data = csv("reg.csv", header = true, standardize = true); validation_split = 0.2; batch = 16; seed = 1 }
NN
head -n 9 reg.csv | tail -n 8 | cut -d, -f1-3 >rows.csv

# check NAME EPOCHS MAX-VAL-LOSS
check() {
  local name=$1 P
  P=$(echo "$name" | tr a-z A-Z)
  "$NNC" train "$name.nn" --epochs "$2" --quiet --log "$name.json" --save "$name.ckpt" >/dev/null
  local first last val
  first=$(head -n 1 "$name.json" | sed -n 's/.*"train_loss": \([-0-9.e+]*\).*/\1/p')
  last=$(json_field "$name.json" train_loss)
  val=$(json_field "$name.json" val_loss)
  awk -v a="$last" -v b="$first" 'BEGIN { exit !(a <= 0.1 * b) }' || fail "$name: training loss $first -> $last"
  less "$val" "$3" || fail "$name: validation loss $val (the target's variance is about 0.6)"
  "$NNC" compile "$name.nn" --weights "$name.ckpt" -o "$name.o" >/dev/null
  "$NNC" predict "$name.nn" --weights "$name.ckpt" --input rows.csv >"$name.want"
  sed -e "s/PFX_/${P}_/g" -e "s/pfx_/${name}_/g" -e "s/HEADER/$name.h/" >"$name.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "HEADER"
int main(void) {
  void *state = aligned_alloc(PFX_STATE_ALIGN, PFX_STATE_BYTES);
  if (!state || pfx_init(state, 0) != 0) return 1;
  float x[8 * PFX_SAMPLE_FLOATS], out[8 * PFX_OUTPUT_WIDTH];
  for (int r = 0; r < 8; r++)
    for (int i = 0; i < PFX_SAMPLE_FLOATS; i++) {
      float v, sd = pfx_input_std[i];
      if (scanf(i ? ",%f" : "%f", &v) != 1) return 1;
      x[r * PFX_SAMPLE_FLOATS + i] = sd > 0 ? (v - pfx_input_mean[i]) / sd : v - pfx_input_mean[i];
    }
  if (pfx_forward(state, x, 8, out) != 0) return 1;
  for (int r = 0; r < 8; r++) printf("%.9g\n", out[r]);
  free(state);
  return 0;
}
C
  cc -std=c11 -Wall -Wextra -Werror "$name.c" "$name.o" -lm -o "$name"
  "./$name" <rows.csv >"$name.got"
  paste "$name.want" "$name.got" | awk '{ d = $1 - $2; if (d < 0) d = -d; s = $1 < 0 ? -$1 : $1;
    if (d > 1e-5 + 1e-4 * s) { print "row " NR ": predict " $1 ", object " $2; bad = 1 } } END { exit bad }' ||
    fail "$name: the compiled model disagrees with nnc predict"
  echo "$name: train loss $first -> $last, validation $val; object = nnc predict on $(wc -l <"$name.got") rows"
}
check regression_mix 60 0.05
check shapes_mix 60 0.1
