# Models of several inputs and targets.  examples/fashion_two_heads.nn (an
# image and three derived numbers in, a class and a kind out, one loss
# weighing both) trains from one IDX file per input and target, reports each
# target's accuracy, and eval and predict read it the same way.  A CSV model
# takes its inputs and targets by column name, range and index, one target
# being the same columns as an input.
source "$(dirname "$0")/lib.sh"
[[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]] || { echo "skipped: no Fashion-MNIST"; exit 0; }
F=/usr/share/datasets/fashion-mnist
D=$ROOT/examples/data
model=$ROOT/examples/fashion_two_heads.nn
"$NNC" train "$model" --limit 3000 --epochs 2 --save two.ckpt --log two.json >train.out
grep -Eq '^epoch 2/2  train loss [0-9.]+  label accuracy 0\.[0-9]+  kind accuracy 0\.[0-9]+' train.out ||
  { cat train.out; fail "training does not report both targets' accuracy"; }
test_line=$(grep '^test loss' train.out)
kind_acc=$(sed 's/.*kind accuracy \([0-9.]*\).*/\1/' <<<"$test_line")
label_acc=$(sed 's/.*label accuracy \([0-9.]*\).*/\1/' <<<"$test_line")
less 0.9 "$kind_acc" || fail "kind accuracy $kind_acc after 2 epochs"
less 0.7 "$label_acc" || fail "label accuracy $label_acc after 2 epochs"
# the log carries every target's accuracy, as the test line does
same() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a == b) }'; }
same "$(json_field two.json test_accuracy_kind)" "$kind_acc" && same "$(json_field two.json test_accuracy_label)" "$label_acc" ||
  fail "the log's test accuracies: $(tail -1 two.json)"
grep -q '"train_accuracy_label": 0\.[0-9]*, "train_accuracy_kind": 0\.[0-9]*' two.json || fail "the log's epochs: $(head -1 two.json)"

# eval: the same test figures, and a confusion matrix per target
"$NNC" eval "$model" --weights two.ckpt >eval.out
[[ $(head -1 eval.out) == "$test_line" ]] || fail "eval: $(head -1 eval.out), train: $test_line"
grep -q '^label (output logits):$' eval.out && grep -q '^kind (output kinds):$' eval.out || fail "eval lacks a target's matrix"
grep -q '^  3 bag  ' eval.out || fail "eval's kind matrix has no class names"
pairs=image=$F/t10k-images-idx3-ubyte.gz,meta=$D/fashion-meta-t10k.idx.gz
"$NNC" eval "$model" --weights two.ckpt --data "$pairs,label=$F/t10k-labels-idx1-ubyte.gz,kind=$D/fashion-kind-t10k.idx.gz" \
  --limit 10000 >eval2.out
[[ $(head -1 eval2.out | sed 's/^[^ ]* //') == "${test_line#test }" ]] || fail "eval --data pairs: $(head -1 eval2.out)"

# predict: one line per image, the class and the kind, each with its name
"$NNC" predict "$model" --weights two.ckpt --input "$pairs" --limit 5 >pred.out
[[ $(wc -l <pred.out) == 5 ]] || fail "predict printed $(wc -l <pred.out) lines for 5 images"
grep -Eqv '^[0-9],[A-Za-z -]+;[0-3],(top|trouser|footwear|bag)$' pred.out && { cat pred.out; fail "predict lines"; }
"$NNC" predict "$model" --weights two.ckpt --input "$pairs" --limit 1 --probs | awk -F';' 'NR == 1 { ok = split($1, a, ",") == 12 && split($2, b, ",") == 6 } END { exit !ok }' ||
  fail "--probs does not give every class's probability for both outputs"
"$NNC" predict "$model" --weights two.ckpt --input "image=$F/t10k-images-idx3-ubyte.gz" 2>err.out && fail "predict without meta"
grep -q "names no file for input 'meta'" err.out || fail "predict without meta: $(cat err.out)"

# a CSV source: columns by name and by range, one target the same as an input
awk 'BEGIN { srand(7); print "id,a,b,c,d,noise,cls,amount";
  for (i = 0; i < 400; i++) { a = rand(); b = rand(); c = rand(); d = rand();
    printf "r%d,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%.4f\n", i, a, b, c, d, rand(), (a + b > 1) + (c > 0.5) * 2, a - d } }' >mix.csv
cat >mix.nn <<'NN'
input  pos    : [2]
input  extra  : [2]
target cls    : class(4)
target amount : []
target echo   : [2]
h    = tanh(dense(pos, 16) + dense(extra, 16))
z    = dense(h, 4)
a    = dense(h, 1)
back = dense(h, 2)
loss cross_entropy(z, cls) + mse(a, amount) + 0.1 * mse(back, echo)
optimizer adam(lr = 0.01)
train {
  data = csv("mix.csv", pos = columns("a", "b"), extra = ["c", "d"], cls = "cls", amount = 7, echo = pos)
  validation_split = 0.25
  epochs = 30
  batch = 20
}
NN
"$NNC" train mix.nn --save mix.ckpt >mix.out
grep -Eq '^epoch 30/30  train loss [0-9.]+  cls accuracy 0\.[0-9]+  val loss' mix.out || { cat mix.out; fail "CSV model"; }
cls_acc=$(grep "^epoch 30/30" mix.out | sed 's/.*val loss [0-9.]*  cls accuracy \([0-9.]*\).*/\1/')
less 0.85 "$cls_acc" || fail "CSV model: validation accuracy $cls_acc"
"$NNC" predict mix.nn --weights mix.ckpt --input mix.csv --limit 2 >mixp.out
awk -F';' '{ exit !(NF == 3 && $1 ~ /^[0-3]$/) }' mixp.out || fail "CSV predict: $(cat mixp.out)"
sed 's/^id,a,/id,q,/' mix.csv >renamed.csv
"$NNC" eval mix.nn --weights mix.ckpt --data renamed.csv 2>err.out && fail "a CSV without column a"
grep -q "^nnc: renamed.csv:1: no column named 'a' (for input 'pos')$" err.out || fail "missing column: $(cat err.out)"
# twelve class heads with long names: every accuracy in the log, each line whole
{
  for i in $(seq -w 1 12); do echo "target the_head_with_a_rather_long_name_$i : class(4)"; done
  echo "input  pos : [2]"
  echo "h = tanh(dense(pos, 8))"
  for i in $(seq -w 1 12); do echo "z$i = dense(h, 4)"; done
  printf 'loss cross_entropy(z01, the_head_with_a_rather_long_name_01)'
  for i in $(seq -w 2 12); do printf ' + cross_entropy(z%s, the_head_with_a_rather_long_name_%s)' "$i" "$i"; done
  echo
  printf 'train {\n  data = csv("mix.csv", pos = columns("a", "b")'
  for i in $(seq -w 1 12); do printf ', the_head_with_a_rather_long_name_%s = "cls"' "$i"; done
  printf ')\n  validation_split = 0.25\n  epochs = 2\n}\n'
} >many.nn
"$NNC" train many.nn --log many.json --quiet >/dev/null
[[ $(wc -l <many.json) -eq 2 ]] || fail "the log of twelve heads: $(wc -l <many.json) lines"
for set in train val; do
  [[ $(grep -o "\"${set}_accuracy_the_head_with_a_rather_long_name_[0-9]*\": 0\.[0-9]*" many.json | sort -u | wc -l) -ge 12 ]] ||
    fail "the log lacks a head's $set accuracy: $(cat many.json)"
done
"$NNC" plot many.json -o many.png || fail "nnc plot of the twelve heads' log"
echo "two heads: $test_line; CSV model: validation accuracy $cls_acc; a log of twelve heads"
