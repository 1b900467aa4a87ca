# Data files beyond what can be loaded are user errors that name the file and
# the size, never an abort: a NUL byte (a binary file, /dev/zero) is named
# where it is, and a file larger than the memory allowed (an endless stream
# under ulimit -v) says how much it asked for.  The release binary runs
# these: a sanitized one reserves more address space than ulimit -v allows.
source "$(dirname "$0")/lib.sh"
nnc=$ROOT/nnc
[[ -x $nnc ]] || fail "no release binary at $nnc (make builds it)"
cat >m.nn <<'NN'
model m
input x : [2]
target y : class(3)
h = dense(x, 3)
loss cross_entropy(h, y)
train { data = csv("/dev/zero") }
NN
status=0
(ulimit -v 2000000; "$nnc" train m.nn >out.txt 2>err.txt) || status=$?
[[ $status -eq 1 ]] || fail "csv(\"/dev/zero\"): exit status $status ($(cat err.txt))"
grep -qF "/dev/zero:1:1: a NUL byte; a CSV file is text" err.txt || fail "csv(\"/dev/zero\"): $(cat err.txt)"
sed -i 's|/dev/zero|/dev/stdin|' m.nn
status=0
(ulimit -v 500000; yes 1,2,0 | "$nnc" train m.nn >out.txt 2>err.txt) || status=$?
[[ $status -eq 1 ]] || fail "an endless CSV: exit status $status ($(cat err.txt))"
grep -qE "^nnc: /dev/stdin: out of memory: could not allocate [0-9]+ MiB to load it$" err.txt ||
  fail "an endless CSV: $(cat err.txt)"
echo "oversized data refused: $(cat err.txt)"
