# Checkpoints of the previous format (version 1) still load: a version 1 file
# predicts what the nnc that wrote it predicted, and --resume continues its
# run; the files written now are version 2 and say so.
source "$(dirname "$0")/lib.sh"
data=$ROOT/tests/e2e/data
"$NNC" predict "$ROOT/examples/xor.nn" --weights "$data/xor_v1.ckpt" --input "$ROOT/examples/data/xor.csv" --raw >pred.txt
cmp pred.txt "$data/xor_v1.pred" || fail "version 1 weights predict differently: $(cat pred.txt)"
"$NNC" train "$ROOT/examples/xor.nn" --resume "$data/xor_v1.ckpt" --save v2.ckpt >out.txt
grep -q "resumed from .*xor_v1.ckpt: epoch 200, step 200" out.txt || fail "no resume line: $(cat out.txt)"
loss=$(sed -n 's/^final  train loss \([^ ]*\).*/\1/p' out.txt)
less "$loss" 0.01 || fail "the resumed run ends at loss $loss"
version=$(od -An -tu4 -j4 -N4 v2.ckpt | tr -d ' ')
[[ $version == 2 ]] || fail "wrote version $version"
"$NNC" predict "$ROOT/examples/xor.nn" --weights v2.ckpt --input "$ROOT/examples/data/xor.csv" >/dev/null
echo "version 1 checkpoint predicted and resumed; final loss $loss"
