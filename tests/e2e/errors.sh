# Bad data and checkpoints are refused with the file name and the reason,
# exit status 1, never a crash.
source "$(dirname "$0")/lib.sh"
expect_error() {  # expect_error PATTERN nnc-args...
  local pattern=$1
  shift
  local status=0
  "$NNC" "$@" >out.txt 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "nnc $*: exit status $status, expected 1 ($(cat err.txt))"
  grep -q -- "$pattern" err.txt || fail "nnc $*: expected '$pattern', got: $(cat err.txt)"
}
cat >m.nn <<'NN'
model m
input x : [2]
target y : [1]
p = dense(x, 1)
loss mse(p, y)
train { data = csv("d.csv") }
NN
expect_error "d.csv: " train m.nn
printf '1,2,3\n4,5\n' >d.csv
expect_error "d.csv:2" train m.nn
printf '1,2,3\n4,x,6\n' >d.csv
expect_error "d.csv:2" train m.nn
printf '1,2,3\n4,5,6\n' >d.csv
"$NNC" train m.nn --epochs 1 --quiet --save ok.ckpt >/dev/null
head -c 100 ok.ckpt >cut.ckpt
expect_error "cut.ckpt: " eval m.nn --weights cut.ckpt
expect_error "missing.ckpt: " train m.nn --resume missing.ckpt
printf 'garbage garbage garbage garbage' >bad.ckpt
expect_error "bad.ckpt: " train m.nn --init bad.ckpt
sed 's/dense(x, 1)/dense(x, 1) + 0*sum(dense(x, 3))/' m.nn >other.nn
expect_error "ok.ckpt: " train other.nn --resume ok.ckpt
sed 's/^model m$/model wider/; s/^p = /q = /; s/mse(p,/mse(q,/' m.nn >wider.nn
expect_error "ok.ckpt: is a checkpoint of model 'm', not of 'wider'" eval wider.nn --weights ok.ckpt
echo "all data and checkpoint errors reported"
