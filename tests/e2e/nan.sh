# A diverging run stops at the first non-finite loss and names the value.
source "$(dirname "$0")/lib.sh"
cat >d.csv <<'CSV'
1,1
2,2
3,3
CSV
cat >m.nn <<'NN'
model diverge
input x : []
target y : []
param w = 1
p = w * x * x
loss mse(p, y)
optimizer sgd(lr = 10)
train { data = csv("d.csv")
        epochs = 200
        batch = 3 }
NN
status=0
"$NNC" train m.nn --quiet >out.txt 2>err.txt || status=$?
cat err.txt
[[ $status -eq 1 ]] || fail "exit status $status, expected 1"
grep -q "loss is" err.txt || fail "no message about the loss"
grep -q "m.nn:" err.txt || fail "the message does not name a source line"
