# The train step split at the gradients (--split-step: forward and gradients,
# then clipping and the update) gives the bits of the fused step on every
# example: the final checkpoints are byte for byte the same, including a last
# partial batch (--limit 200 leaves one).  The test sets are left out (the
# CNN's would take most of the time; a source may span lines, up to its
# closing parenthesis); relative data paths point at examples/.
source "$(dirname "$0")/lib.sh"
for example in "$ROOT"/examples/*.nn; do
  name=$(basename "$example")
  awk '/^ *test *=/ { skip = 1 } skip { depth += gsub(/\(/, "(") - gsub(/\)/, ")"); if (depth <= 0) skip = 0; next } 1' \
    "$example" | sed "s#\"data/#\"$ROOT/examples/data/#" >"$name"
  opts=(--epochs 2 --quiet)
  grep -q '^input' "$name" && opts+=(--limit 200)
  "$NNC" train "$name" "${opts[@]}" --save fused.ckpt >fused.out
  "$NNC" train "$name" "${opts[@]}" --split-step --save split.ckpt >split.out
  cmp fused.ckpt split.ckpt || fail "$name: the split train step's checkpoint differs from the fused one"
  diff fused.out split.out || fail "$name: the split train step prints other results"
done
echo "split and fused train steps agree on $(ls "$ROOT"/examples/*.nn | wc -l) examples"
