# The train step split at the gradients (--split-step: forward and gradients,
# then clipping and the update) gives the bits of the fused step on every
# example: the final checkpoints are byte for byte the same, including a last
# partial batch (--limit 200 leaves one).  The test sets are left out (the
# CNN's would take most of the time; a source may span lines, up to its
# closing parenthesis); relative data paths point at examples/.  So does a
# model whose parameters share one gradient node, under every optimizer: the
# fused step computes that gradient once and updates both from it, the split
# step reads it from two slots of the gradient buffer.
source "$(dirname "$0")/lib.sh"
same_step() {
  "$NNC" train "$@" --save fused.ckpt >fused.out
  "$NNC" train "$@" --split-step --save split.ckpt >split.out
  cmp fused.ckpt split.ckpt || fail "$1: the split train step's checkpoint differs from the fused one"
  diff fused.out split.out || fail "$1: the split train step prints other results"
}

optimizers=("sgd(lr = 0.05)" "adam(lr = 0.01)" "adam(lr = 0.01, clip_norm = 0.5, weight_decay = 0.01)"
  "adamw(lr = 0.01)" "momentum(lr = 0.05, nesterov = true, clip_value = 0.2)" "rmsprop(lr = 0.01)"
  "adagrad(lr = 0.05)")
for optimizer in "${optimizers[@]}"; do
  cat >shared.nn <<EOF
input  x : [3]
target y : []
h    = relu(dense(x, 3) + dense(x, 3))
pred = dense(h, 1)
loss mse(pred, y)
optimizer $optimizer
train {
  data   = csv("$ROOT/examples/data/regression.csv", header = true)
  epochs = 3
  batch  = 16
}
EOF
  same_step shared.nn --quiet
done

for example in "$ROOT"/examples/*.nn; do
  name=$(basename "$example")
  awk '/^ *test *=/ { skip = 1 } skip { depth += gsub(/\(/, "(") - gsub(/\)/, ")"); if (depth <= 0) skip = 0; next } 1' \
    "$example" | sed "s#\"data/#\"$ROOT/examples/data/#" >"$name"
  opts=(--epochs 2 --quiet)
  # under memcheck (tests/valgrind.sh) one epoch of 100 still ends on a partial batch
  ((SLOW == 1)) || opts=(--epochs 1 --quiet)
  grep -q '^input' "$name" && opts+=(--limit $((SLOW == 1 ? 200 : 100)))
  same_step "$name" "${opts[@]}"
done
echo "split and fused train steps agree on $(ls "$ROOT"/examples/*.nn | wc -l) examples and on shared gradients under ${#optimizers[@]} optimizers"
