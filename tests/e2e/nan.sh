# A diverging run stops at the first non-finite loss and names the value.
source "$(dirname "$0")/lib.sh"
# expect_stop FILE: training FILE must stop with status 1; its messages land in err.txt
expect_stop() {
  local status=0
  "$NNC" train "$@" --quiet >out.txt 2>err.txt || status=$?
  cat err.txt
  [[ $status -eq 1 ]] || fail "$1: exit status $status, expected 1"
}
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
expect_stop m.nn
grep -q "the loss is infinite at epoch" err.txt || fail "no message about the loss"
grep -q "first non-finite value: mul of 'loss' at m.nn:6" err.txt || fail "the message does not name the overflowing value"
grep -qF "a diverging run usually needs a smaller learning rate (it is 10: try --lr 1) or clipped gradients" err.txt ||
  fail "no advice for the diverging run"
# the advice names the rate in force, which --lr set, not the file's
expect_stop m.nn --lr 20
grep -qF "(it is 20: try --lr 2)" err.txt || fail "the advice does not name the rate given with --lr"
# under a growing schedule the advice scales the base rate, which --lr sets
sed 's/batch = 3 }/batch = 3\n        schedule = step(every = 1, gamma = 3) }/; s/lr = 10/lr = 0.1/' m.nn >sched.nn
expect_stop sched.nn
grep -qF "in force, from a base of 0.1: try --lr 0.01)" err.txt || fail "the advice under a schedule: $(cat err.txt)"
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
expect_stop n.nn
grep -q "the loss is NaN at epoch 1, step 1" err.txt || fail "no message about the NaN loss"
grep -q "first non-finite value: log of 'z' at n.nn:4" err.txt || fail "the message does not name the log"
grep -q "diverging" err.txt && fail "the first step's NaN is no divergence, yet a smaller learning rate was advised"
# overflow in the middle of an epoch (batch 1: three steps an epoch): the
# steps before it are replayed so the value is explained from the weights
# that step started with, not the ones it had already ruined
sed 's/lr = 10/lr = 4/; s/batch = 3/batch = 1/' m.nn >mid.nn
expect_stop mid.nn
read -r epoch step < <(sed -n 's/.*the loss is infinite at epoch \([0-9]*\), step \([0-9]*\).*/\1 \2/p' err.txt)
[[ -n $step ]] || fail "no step named"
((step - 3 * (epoch - 1) > 1)) || fail "the overflow came at the first step of an epoch; this case wants a later one"
grep -q "first non-finite value: mul of 'loss' at mid.nn:6" err.txt || fail "the mid-epoch overflow is not named"
