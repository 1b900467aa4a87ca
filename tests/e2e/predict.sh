# Saved weights predict: XOR trained and saved, then `nnc predict` on its data
# gives the XOR truth table with its probabilities, the same whether the file
# has labels and a header or only the features (plain or gzipped), and
# `nnc eval` of the Fashion-MNIST classifier's checkpoint reproduces the test
# metrics training printed, while `nnc predict` on the test images alone (the
# images file itself or the IDX prefix, no labels needed) gives classes with
# that same accuracy.
source "$(dirname "$0")/lib.sh"
"$NNC" train "$ROOT/examples/xor.nn" --quiet --save xor.ckpt >/dev/null
"$NNC" predict "$ROOT/examples/xor.nn" --weights xor.ckpt --input "$ROOT/examples/data/xor.csv" --output pred.txt
[[ $(wc -l <pred.txt) -eq 4 ]] || fail "expected 4 predictions, got $(wc -l <pred.txt)"
# a binary_cross_entropy model prints the class and its probability, sigmoid(logit)
tail -n +2 "$ROOT/examples/data/xor.csv" | cut -d, -f3 | paste -d, - pred.txt | while IFS=, read -r want got p; do
  [[ ${want%%.*} == "$got" ]] || fail "xor predicted $got (probability $p) for label $want"
  awk -v c="$got" -v p="$p" 'BEGIN { exit !((c == 1) == (p >= 0.5)) }' || fail "class $got with probability $p"
done
# features only: no header (xor.nn says header = true, which must not eat a row), then a gzipped one with a header
tail -n +2 "$ROOT/examples/data/xor.csv" | cut -d, -f1,2 >features.csv
"$NNC" predict "$ROOT/examples/xor.nn" --weights xor.ckpt --input features.csv >pred_features.txt
cmp pred.txt pred_features.txt || fail "predictions for the unlabelled CSV differ from the labelled file's"
{ echo "a,b"; cat features.csv; } | gzip >features.csv.gz
"$NNC" predict "$ROOT/examples/xor.nn" --weights xor.ckpt --input features.csv.gz >pred_gz.txt
cmp pred.txt pred_gz.txt || fail "predictions for the gzipped CSV with a header differ"
printf '0,1,1,1\n' >wide.csv
if "$NNC" predict "$ROOT/examples/xor.nn" --weights xor.ckpt --input wide.csv 2>err.txt; then fail "a 4-column row was accepted"; fi
grep -qF "wide.csv:1: 4 columns, expected 2 (the features) or 3 (2 features + 1 target)" err.txt ||
  fail "unexpected message: $(cat err.txt)"

"$NNC" train "$ROOT/examples/fashion_mlp.nn" --limit 1000 --epochs 1 --quiet --save f.ckpt >train.txt
"$NNC" eval "$ROOT/examples/fashion_mlp.nn" --weights f.ckpt >eval.txt
want=$(sed -n 's/^test *//p' train.txt)
got=$(sed -n 's/^test *//p' eval.txt)
[[ "$want" == "$got" ]] || fail "eval '$got' differs from training's '$want'"
fm=/usr/share/datasets/fashion-mnist
"$NNC" predict "$ROOT/examples/fashion_mlp.nn" --weights f.ckpt --input $fm/t10k-images-idx3-ubyte.gz --output classes.txt
"$NNC" predict "$ROOT/examples/fashion_mlp.nn" --weights f.ckpt --input $fm/t10k --output classes_prefix.txt
cmp classes.txt classes_prefix.txt || fail "the images file and the IDX prefix give different predictions"
[[ $(wc -l <classes.txt) -eq 10000 ]] || fail "expected 10000 predictions, got $(wc -l <classes.txt)"
# the labels: skip the 8-byte IDX header, one byte per label
zcat $fm/t10k-labels-idx1-ubyte.gz | tail -c +9 | od -An -tu1 -v | tr -s ' ' '\n' | sed '/^$/d' >labels.txt
acc=$(paste -d' ' classes.txt labels.txt | awk '{ n++; ok += $1 == $2 } END { printf "%.4f", ok / n }')
[[ "$got" == *"accuracy $acc"* ]] || fail "predicted classes have accuracy $acc, eval says '$got'"
echo "predictions and evaluation agree: $got"
