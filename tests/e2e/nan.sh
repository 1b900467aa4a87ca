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
grep -q "the loss is infinite at epoch" err.txt || fail "no message about the loss"
grep -q "first non-finite value: mul of 'loss' at m.nn:6" err.txt || fail "the message does not name the overflowing value"
# a NaN from the first step: log of a negative number, named with its line
cat >n.nn <<'NN'
model lognan
input x : []
target y : []
z = log(dense(x, 1, init = -1))
loss mse(z, y)
train { data = csv("d.csv")
        batch = 3 }
NN
status=0
"$NNC" train n.nn --quiet >out.txt 2>err.txt || status=$?
cat err.txt
[[ $status -eq 1 ]] || fail "exit status $status, expected 1"
grep -q "the loss is NaN at epoch 1, step 1" err.txt || fail "no message about the NaN loss"
grep -q "first non-finite value: log of 'z' at n.nn:4" err.txt || fail "the message does not name the log"
