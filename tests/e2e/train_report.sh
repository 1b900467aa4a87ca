# What nnc train says and logs about a run: a batch larger than the data is
# named, plurals read right, override lines come before errors in one
# redirected stream, --log starts afresh (--log-append adds) and carries the
# learning rate, the wall time, the early stop with the best epoch and the
# test metrics, --plot draws the run at its end, and resuming a run that
# stopped early trains nothing; header = true over numbers is warned about,
# and train_loss is the mean over the epoch's samples.
source "$(dirname "$0")/lib.sh"
fm=/usr/share/datasets/fashion-mnist
cat >es.nn <<NN
model es
input  x : [784]
target y : class(10)
h      = relu(dense(x, 32))
logits = dense(h, 10)
loss cross_entropy(logits, y)
optimizer adam(lr = 0.01)
train {
  data   = idx("$fm/train", scale = 1/255)
  test   = idx("$fm/t10k", scale = 1/255)
  validation_split = 0.5
  epochs = 30
  batch  = 32
  patience = 2
}
NN
"$NNC" train es.nn --limit 400 --log run.json --plot run.png --save es.ckpt >out.txt
grep -q "^early stopping: " out.txt || fail "no early stop in 30 epochs: $(cat out.txt)"
grep -q "^plotted run.png$" out.txt || fail "no picture: $(cat out.txt)"
[[ $(head -c 4 run.png | od -An -tx1 | tr -d ' \n') == 89504e47 ]] || fail "run.png is not a PNG"
epochs=$(grep -c '^{"epoch"' run.json)
grep -q "\"lr\": 0.01, \"seconds\": .*\"wall_seconds\": " run.json || fail "no learning rate or wall time: $(head -1 run.json)"
stop=$(grep '"event": "early_stop"' run.json) || fail "no early_stop event in the log"
[[ $stop == *"\"epoch\": $epochs, \"best_epoch\": $((epochs - 2)), "*"\"restored\": true}" ]] || fail "early stop event: $stop"
grep -q '^{"event": "test", "epoch": '"$epochs"', "test_loss": [0-9.]*, "test_accuracy": [0-9.]*, "test_samples": 10000' run.json ||
  fail "no test event: $(tail -1 run.json)"
# without a test set, the closing line gives the restored weights' validation
# metrics, the best epoch's, not the last epoch's
grep -v '^  test ' es.nn >es_notest.nn
"$NNC" train es_notest.nn --limit 400 >out2.txt
best=$(sed -n 's/.*restored the weights of the best epoch (validation loss \([0-9.]*\)).*/\1/p' out2.txt)
final=$(sed -n 's/^final (the restored weights)  *val loss \([0-9.]*\).*/\1/p' out2.txt)
[[ -n $best && $best == "$final" ]] || fail "final line after early stopping: $(tail -3 out2.txt)"
# docs/training.md documents every key of the log
for key in $(grep -o '"[a-z_]*":' run.json | tr -d '":' | sort -u); do
  grep -q "\`$key\`\|\"$key\":" "$ROOT/docs/training.md" || fail "docs/training.md does not document the log's key $key"
done
# a second run with the same --log starts it afresh; --log-append adds to it
"$NNC" train es.nn --limit 400 --epochs 2 --log run.json --quiet >/dev/null
[[ $(grep -c '^{"epoch"' run.json) -eq 2 ]] || fail "--log did not start afresh: $(wc -l <run.json) lines"
"$NNC" train es.nn --limit 400 --epochs 2 --log run.json --log-append --quiet >/dev/null
[[ $(grep -c '^{"epoch"' run.json) -eq 4 ]] || fail "--log-append did not add: $(wc -l <run.json) lines"
# resuming the early-stopped run has nothing to do
status=0
"$NNC" train es.nn --limit 400 --resume es.ckpt --save again.ckpt >out.txt 2>err.txt || status=$?
[[ $status -eq 0 ]] || fail "resume after early stop: exit $status"
grep -qF "the checkpoint's run already stopped early at epoch $epochs (no validation improvement for 2 epochs); nothing to do" err.txt ||
  fail "resume after early stop: $(cat err.txt)"
grep -q "^epoch " out.txt && fail "resume after early stop trained: $(cat out.txt)"
grep -q "^training " out.txt && fail "resume after early stop printed a start line: $(cat out.txt)"
cmp -s es.ckpt again.ckpt || fail "resume after early stop did not save the checkpoint --save asked for"
# a batch larger than the data is said, with singular and plural right
printf '1,2\n3,4\n5,6\n' >d.csv
cat >r.nn <<'NN'
model r
input x : []
target y : []
p = dense(x, 1)
loss mse(p, y)
train { data = csv("d.csv") }
NN
"$NNC" train r.nn --epochs 1 --batch 64 >out.txt
grep -qF "note: batch 64 is more than the 3 training samples: each step takes all of them (batch 3)" out.txt ||
  fail "batch larger than the data: $(cat out.txt)"
grep -qF "training r: 2 parameters, 3 samples; batch 3; 1 epoch; compiled" out.txt || fail "start line: $(cat out.txt)"
# header = true over a row of numbers warns that the row is skipped
sed 's/csv("d.csv")/csv("d.csv", header = true)/' r.nn >hdr.nn
"$NNC" train hdr.nn --epochs 1 >out.txt 2>err.txt
grep -qF "warning: d.csv:1: header = true skips this row of numbers; if it is data, remove header = true" err.txt ||
  fail "header = true over numbers: $(cat err.txt)"
grep -qF "training r: 2 parameters, 2 samples;" out.txt || fail "header = true over numbers: $(cat out.txt)"
# the epoch's train_loss is the mean over its samples (a partial last batch
# weighs by its size): with the weights kept still it is the test loss on the
# same data, 6 here, where a mean of the steps' means would be 8.5
printf '1,2\n3,4\n5,9\n' >w.csv
cat >w.nn <<'NN'
model w
input x : []
target y : []
p = dense(x, 1, init = 1)
loss mse(p, y)
optimizer sgd(lr = 1e-30)
train { data = csv("w.csv"); test = csv("w.csv"); epochs = 1; batch = 2 }
NN
"$NNC" train w.nn --log w.json >/dev/null
grep -q '^{"epoch": 1, "step": 2, "train_loss": 6, ' w.json || fail "train_loss is not the mean over samples: $(head -1 w.json)"
grep -q '"test_loss": 6, ' w.json || fail "test loss: $(tail -1 w.json)"
# override lines come before the error in one redirected stream
sed 's/d.csv/missing.csv/' r.nn >missing.nn
"$NNC" train missing.nn --epochs 2 >both.txt 2>&1 && fail "a missing file trained"
[[ $(head -1 both.txt) == "override: epochs = 2" ]] || fail "override line after the error: $(cat both.txt)"
echo "reported: $epochs epochs, $stop"
