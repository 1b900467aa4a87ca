# examples/fashion_autoencoder.nn trains as written, with no target declared:
# the images alone feed it, the loss falls, the test MSE is printed, and eval
# and predict read the same model (predict prints 784 values per image).
source "$(dirname "$0")/lib.sh"
model=$ROOT/examples/fashion_autoencoder.nn
"$NNC" train "$model" --limit 1000 --epochs 2 --save ae.ckpt --log ae.json >train.out
grep -q '^test loss 0\.0[0-9]*  (10000 samples)$' train.out || { cat train.out; fail "no test MSE below 0.1"; }
loss_at() { grep "^{\"epoch\": $1," ae.json | sed 's/.*"train_loss": \([0-9.e+-]*\).*/\1/'; }
first=$(loss_at 1)
last=$(loss_at 2)
[[ -n $first && -n $last ]] || fail "no training losses in the log"
less "$last" "$first" || fail "the reconstruction error did not fall ($first -> $last)"
"$NNC" eval "$model" --weights ae.ckpt --limit 200 >eval.out
grep -q '^test loss 0\.0[0-9]*  (200 samples)$' eval.out || { cat eval.out; fail "eval printed no test MSE"; }
"$NNC" predict "$model" --weights ae.ckpt --input /usr/share/datasets/fashion-mnist/t10k --limit 3 >pred.out
[[ $(wc -l <pred.out) == 3 && $(head -1 pred.out | tr ',' '\n' | wc -l) == 784 ]] || fail "predict did not print 784 values per image"
echo "autoencoder: train loss $first -> $last, $(grep '^test loss' train.out)"
