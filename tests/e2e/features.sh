# Everything the language offers trains through the JIT: each variant below
# (activations, layers, losses, optimizers, regularizers, clipping,
# initializers) trains 40 epochs on a small CSV, and its training loss must
# fall by at least a quarter from the first epoch to the last.
source "$(dirname "$0")/lib.sh"
cp "$ROOT/examples/data/regression.csv" reg.csv
# two classes from the sign of the regression target
awk -F, 'NR == 1 { print "x1,x2,x3,label"; next } { print $1 "," $2 "," $3 "," ($4 > 0 ? 1 : 0) }' reg.csv >cls.csv

run() {  # run NAME TARGET-DECL DATA BODY...
  local name=$1 target=$2 data=$3
  shift 3
  {
    echo "model $name"
    echo "input x : [3]"
    echo "target y : $target"
    printf '%s\n' "$@"
    echo "train { data = csv(\"$data\", header = true)"
    echo "        epochs = 40; batch = 20; seed = 3 }"
  } >"$name.nn"
  "$NNC" train "$name.nn" --quiet --log "$name.json" >/dev/null 2>"$name.err" || fail "$name: $(cat "$name.err")"
  local first last
  first=$(head -n 1 "$name.json" | sed -n 's/.*"train_loss": \([-0-9.e+]*\).*/\1/p')
  last=$(json_field "$name.json" train_loss)
  awk -v a="$last" -v b="$first" 'BEGIN { exit !(a <= 0.75 * b) }' || fail "$name: loss $first -> $last did not fall"
  printf '%-14s %.4f -> %.4f\n' "$name" "$first" "$last"
}

REG=("h = tanh(dense(x, 16))" "p = dense(h, 1)" "loss mse(p, y)")
run sgd "[1]" reg.csv "${REG[@]}" "optimizer sgd(lr = 0.05)"
run momentum "[1]" reg.csv "${REG[@]}" "optimizer momentum(lr = 0.02)"
run nesterov "[1]" reg.csv "${REG[@]}" "optimizer momentum(lr = 0.02, nesterov = true)"
run adagrad "[1]" reg.csv "${REG[@]}" "optimizer adagrad(lr = 0.05)"
run rmsprop "[1]" reg.csv "${REG[@]}" "optimizer rmsprop(lr = 0.005)"
run adam "[1]" reg.csv "${REG[@]}" "optimizer adam(lr = 0.01)"
run clip_value "[1]" reg.csv "${REG[@]}" "optimizer sgd(lr = 0.05, clip_value = 0.1)"
run clip_norm "[1]" reg.csv "${REG[@]}" "optimizer adam(lr = 0.01, clip_norm = 0.5)"
run mae "[1]" reg.csv "h = relu(dense(x, 16, init = kaiming))" "p = dense(h, 1)" "loss mae(p, y)" "optimizer adam(lr = 0.01)"
run sigmoid "[1]" reg.csv "h = sigmoid(dense(x, 16, init = normal(0.5)))" "p = dense(h, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run leaky_relu "[1]" reg.csv "h = leaky_relu(dense(x, 16, init = uniform(-0.5, 0.5)), alpha = 0.1)" "p = dense(h, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run elu "[1]" reg.csv "h = elu(dense(x, 16), alpha = 1)" "p = dense(h, 1)" "loss mse(p, y) + l2(1e-4)" "optimizer adam(lr = 0.01)"
run selu "[1]" reg.csv "h = selu(dense(x, 16))" "p = dense(h, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run softplus "[1]" reg.csv "h = softplus(dense(x, 16), beta = 2)" "p = dense(h, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run gelu "[1]" reg.csv "h = gelu(dense(x, 16)) + gelu(dense(x, 16), approximate = \"tanh\")" "p = dense(h, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run silu "[1]" reg.csv "h = concat(silu(dense(x, 8)), swish(dense(x, 8)))" "p = dense(h, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run maxout "[1]" reg.csv "h = maxout(x, 8, k = 3)" "p = dense(h, 1)" "loss mse(p, y) + l1(1e-4)" "optimizer adam(lr = 0.01)"
run layer_norm "[1]" reg.csv "h = relu(layer_norm(dense(x, 16)))" "r = h + tanh(dense(h, 16))" "p = dense(r, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run batch_norm "[1]" reg.csv "h = relu(batch_norm(dense(x, 16)))" "d = dropout(h, p = 0.1)" "p = dense(d, 1)" "loss mse(p, y)" "optimizer adam(lr = 0.01)"
run softmax_ce "class(2)" cls.csv "h = tanh(dense(x, 16))" "logits = dense(h, 2)" "loss cross_entropy(logits, y)" "optimizer adam(lr = 0.01)"
run bce "[1]" cls.csv "h = tanh(dense(x, 16))" "logit = dense(h, 1)" "loss binary_cross_entropy(logit, y)" "optimizer adam(lr = 0.01)"
run graph "[1]" reg.csv "param w : [3, 1] = normal(0.1)" "param b = 0" "p = x @ w + b" "loss mean((p - y)^2)" "optimizer sgd(lr = 0.1)"
