# The Fashion-MNIST classifier on the first 3000 training images for 3 epochs
# reaches at least 0.75 accuracy on the full 10,000-image test set.
source "$(dirname "$0")/lib.sh"
"$NNC" train "$ROOT/examples/fashion_mlp.nn" --limit 3000 --epochs 3 --quiet >out.txt
cat out.txt
acc=$(sed -n 's/^test .*accuracy \([0-9.]*\).*/\1/p' out.txt)
[[ -n $acc ]] || fail "no test accuracy printed"
less 0.75 "$acc" || fail "test accuracy $acc is below 0.75"
