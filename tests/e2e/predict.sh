# Saved weights predict: XOR trained and saved, then `nnc predict` on its data
# gives logits whose signs are the XOR truth table, and `nnc eval` of the
# Fashion-MNIST classifier's checkpoint reproduces the test metrics training
# printed.
source "$(dirname "$0")/lib.sh"
"$NNC" train "$ROOT/examples/xor.nn" --quiet --save xor.ckpt >/dev/null
"$NNC" predict "$ROOT/examples/xor.nn" --weights xor.ckpt --input "$ROOT/examples/data/xor.csv" --output pred.txt
[[ $(wc -l <pred.txt) -eq 4 ]] || fail "expected 4 predictions, got $(wc -l <pred.txt)"
tail -n +2 "$ROOT/examples/data/xor.csv" | cut -d, -f3 | paste -d' ' - pred.txt | while read -r want logit; do
  got=$(awk -v v="$logit" 'BEGIN { print (v > 0) ? 1 : 0 }')
  [[ ${want%%.*} == "$got" ]] || fail "xor predicted logit $logit for label $want"
done
"$NNC" train "$ROOT/examples/fashion_mlp.nn" --limit 1000 --epochs 1 --quiet --save f.ckpt >train.txt
"$NNC" eval "$ROOT/examples/fashion_mlp.nn" --weights f.ckpt >eval.txt
want=$(sed -n 's/^test *//p' train.txt)
got=$(sed -n 's/^test *//p' eval.txt)
[[ "$want" == "$got" ]] || fail "eval '$got' differs from training's '$want'"
echo "predictions and evaluation agree: $got"
