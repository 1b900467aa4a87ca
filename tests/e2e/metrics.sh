# Every target kind gets its accuracy: a class(k) target, one-hot columns
# under cross_entropy and 0/1 targets under binary_cross_entropy (the logit's
# sign); a regression gets none.  eval prints the confusion matrix and
# per-class precision, recall and F1 with the class names, evaluates any
# labelled file with --data and the first N samples with --limit; predict
# prints names, probabilities with --probs, and 0/1 with the probability for
# a binary model.
source "$(dirname "$0")/lib.sh"
# three separable classes along x: class = floor(x) for x in [0, 3)
awk 'BEGIN { for (i = 0; i < 60; i++) { x = (i % 30) / 10 + 0.05; c = int(x); printf "%g,%d\n", x, c } }' >cls.csv
awk -F, '{ printf "%s,%d,%d,%d\n", $1, ($2 == 0), ($2 == 1), ($2 == 2) }' cls.csv >onehot.csv
awk -F, '{ printf "%s,%d\n", $1, ($2 >= 1) }' cls.csv >bin.csv
model() {  # model NAME TARGET LOSS DATA
  cat >"$1.nn" <<NN
model $1
input x : []
target y : $2
h = tanh(dense(x, 16))
z = dense(h, ${5:-3})
loss $3(z, y)
optimizer adam(lr = 0.05)
train {
  data = csv("$4")
  epochs = 150
  batch = 20
}
NN
}
model named 'class(3, names = ["low", "mid", "high"])' cross_entropy cls.csv
model onehot '[3]' cross_entropy onehot.csv
model binary '[1]' binary_cross_entropy bin.csv 1
for m in named onehot binary; do
  "$NNC" train $m.nn --quiet --save $m.ckpt >$m.out
  grep -qE "^final  train loss [0-9.e+-]+  accuracy (0\.9|1\.0)" $m.out || fail "$m: no accuracy: $(cat $m.out)"
done
"$NNC" eval named.nn --weights named.ckpt --data cls.csv >eval.txt
grep -q "^cls.csv: loss .*  accuracy .*  (60 samples)$" eval.txt || fail "eval --data: $(cat eval.txt)"
grep -q "^confusion matrix (rows: true class, columns: predicted class)$" eval.txt || fail "no confusion matrix"
grep -qE "^  2 high +[0-9]+ +[0-9]+ +[0-9]+$" eval.txt || fail "no named matrix row: $(cat eval.txt)"
grep -qE "^  1 mid +[01]\.[0-9]{4} +[01]\.[0-9]{4} +[01]\.[0-9]{4} +20$" eval.txt || fail "no per-class row: $(cat eval.txt)"
out=$("$NNC" eval named.nn --weights named.ckpt --data cls.csv --limit 7) || fail "eval --limit exited $?"
[[ $out == *"(7 samples)"* ]] || fail "eval --limit: $out"
out=$("$NNC" eval onehot.nn --weights onehot.ckpt --data onehot.csv) || fail "one-hot eval exited $?"
[[ $out == *accuracy* ]] || fail "one-hot eval has no accuracy: $out"
# predict: names, probabilities that sum to 1, --limit
cut -d, -f1 cls.csv >x.csv
"$NNC" predict named.nn --weights named.ckpt --input x.csv --probs --limit 5 >p.txt
[[ $(wc -l <p.txt) -eq 5 ]] || fail "predict --limit 5 gave $(wc -l <p.txt) lines"
head -1 p.txt | grep -qE "^0,low,[0-9.e-]+,[0-9.e-]+,[0-9.e-]+$" || fail "predict --probs: $(head -1 p.txt)"
awk -F, '{ s = $3 + $4 + $5; if (s < 0.999 || s > 1.001) exit 1 }' p.txt || fail "probabilities do not sum to 1: $(cat p.txt)"
"$NNC" predict binary.nn --weights binary.ckpt --input x.csv >b.txt
paste -d, bin.csv b.txt | awk -F, '$2 != $3 || ($3 == 1) != ($4 >= 0.5) { bad++ } END { exit bad > 3 }' ||
  fail "binary predictions: $(paste -d, bin.csv b.txt | head)"
# a regression has no accuracy and no probabilities
awk -F, '{ printf "%s,%g\n", $1, 2 * $1 }' cls.csv >reg.csv
sed 's/^target y : .*/target y : [1]/; s/cross_entropy/mse/; s/dense(h, 3)/dense(h, 1)/; s/cls.csv/reg.csv/; s/model named/model reg/' named.nn >reg.nn
"$NNC" train reg.nn --quiet --epochs 5 --save reg.ckpt >reg.out
grep -q accuracy reg.out && fail "a regression reports an accuracy: $(cat reg.out)"
if "$NNC" predict reg.nn --weights reg.ckpt --input x.csv --probs >/dev/null 2>err.txt; then fail "--probs on a regression"; fi
grep -qF -- "--probs needs a classifier" err.txt || fail "$(cat err.txt)"
echo "metrics for every target kind: $(grep -h final named.out onehot.out binary.out | tr '\n' ';')"
