# The Fashion-MNIST classifier on the first 3000 training images for 3 epochs
# reaches at least 0.75 accuracy on the full 10,000-image test set; --timings
# reports the compile stages, once the time to the first step, and the
# training's wall and CPU time for every sample trained.
source "$(dirname "$0")/lib.sh"
"$NNC" train "$ROOT/examples/fashion_mlp.nn" --limit 3000 --epochs 3 --quiet --timings >out.txt 2>err.txt
cat out.txt err.txt
acc=$(sed -n 's/^test .*accuracy \([0-9.]*\).*/\1/p' out.txt)
[[ -n $acc ]] || fail "no test accuracy printed"
less 0.75 "$acc" || fail "test accuracy $acc is below 0.75"
grep -q '^compile stages: [a-z]' err.txt || fail "--timings printed no compile stages"
[[ $(grep -c '^first step: done [0-9.]* s after start (' err.txt) == 1 ]] || fail "--timings did not print the first step once"
grep -q '^training: 9000 samples in [0-9.]* s, [0-9.]* s of CPU time' err.txt || fail "--timings did not report the training time"
