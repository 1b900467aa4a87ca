# The issue's bar: examples/fashion_mlp.nn as written (784-256-128-10, ReLU,
# Adam, batch 64, 10 epochs on all 60,000 training images) reaches at least
# 0.87 accuracy on the 10,000 test images.
source "$(dirname "$0")/lib.sh"
"$NNC" train "$ROOT/examples/fashion_mlp.nn" --quiet >out.txt
cat out.txt
acc=$(sed -n 's/^test .*accuracy \([0-9.]*\).*/\1/p' out.txt)
[[ -n $acc ]] || fail "no test accuracy printed"
less 0.87 "$acc" || fail "test accuracy $acc is below 0.87"
