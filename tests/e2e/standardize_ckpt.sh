# A standardized model's checkpoint carries the training set's statistics:
# eval, predict and compile use them without the training file, and give what
# they gave with it.  A checkpoint without them (written before nnc saved
# them) still works: the statistics come from the training data, with a note.
source "$(dirname "$0")/lib.sh"
mkdir data
cp "$ROOT/examples/data/regression.csv" data/
sed 's/validation_split = 0.2/test = csv("data\/regression.csv", header = true, standardize = true)/' \
  "$ROOT/examples/regression.nn" >reg.nn
"$NNC" train reg.nn --epochs 20 --quiet --save r.ckpt >/dev/null
sed -n 2,21p data/regression.csv | cut -d, -f1-3 >rows.csv   # no head: under pipefail, a writer it cuts off fails the test
"$NNC" predict reg.nn --weights r.ckpt --input rows.csv >with.txt
"$NNC" eval reg.nn --weights r.ckpt --data rows.csv >/dev/null 2>&1 && fail "rows.csv has no targets, yet eval took it"
head -n 21 data/regression.csv >labelled.csv
"$NNC" eval reg.nn --weights r.ckpt --data labelled.csv >eval_with.txt
mv data/regression.csv elsewhere.csv   # the training file is gone
"$NNC" predict reg.nn --weights r.ckpt --input rows.csv >without.txt 2>err.txt || fail "predict needs the training file: $(cat err.txt)"
cmp with.txt without.txt || fail "predictions differ without the training file"
"$NNC" eval reg.nn --weights r.ckpt --data labelled.csv >eval_without.txt 2>err.txt || fail "eval: $(cat err.txt)"
cmp eval_with.txt eval_without.txt || fail "eval differs without the training file"
"$NNC" compile reg.nn --weights r.ckpt -o reg.o >/dev/null 2>err.txt || fail "compile needs the training file: $(cat err.txt)"
grep -q "regression_input_mean" reg.h || fail "the header exports no statistics"
# a checkpoint without statistics: a model trained unstandardized, read as standardized
mv elsewhere.csv data/regression.csv
sed 's/, standardize = true//g' reg.nn >plain.nn
"$NNC" train plain.nn --epochs 2 --quiet --save plain.ckpt >/dev/null
"$NNC" predict reg.nn --weights plain.ckpt --input rows.csv >old.txt 2>err.txt || fail "$(cat err.txt)"
grep -qF "plain.ckpt has no standardization statistics; computing them from the training data" err.txt || fail "no note: $(cat err.txt)"
echo "standardized without the training file: $(head -1 without.txt)"
