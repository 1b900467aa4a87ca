# Every output path of every command under failure: /dev/full (a device that
# refuses every write) as --log, --save, --output, -o and standard output; a
# directory, a symbolic link and a FIFO as every replaced output; two trainers
# saving to one checkpoint.  Each must fail with exit status 1 and a message
# naming the path, and leave what was there untouched.
source "$(dirname "$0")/lib.sh"
xor=$ROOT/examples/xor.nn
csv=$ROOT/examples/data/xor.csv
"$NNC" train "$xor" --epochs 2 --quiet --save w.ckpt >/dev/null

# expect_fail WANT CMD...: CMD exits 1 and its standard error contains WANT
expect_fail() {
  local want=$1 status=0
  shift
  "$@" >out.txt 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "$* exited $status, expected 1: $(cat err.txt)"
  grep -qF -- "$want" err.txt || fail "$*: expected '$want', got: $(cat err.txt)"
}

# standard output that cannot be written is a failure of the command
full="standard output: cannot write: No space left on device"
for cmd in "summary $xor" "ir $xor" "grad $xor" "check $xor" "llvm $xor" "train $xor --epochs 2" \
           "predict $xor --weights w.ckpt --input $csv" "--help"; do
  status=0
  "$NNC" $cmd >/dev/full 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "nnc $cmd >/dev/full exited $status"
  grep -qE "^nnc: standard output: cannot write: " err.txt || fail "nnc $cmd >/dev/full: $(cat err.txt)"
done
"$NNC" ir "$xor" >/dev/full 2>err.txt || true
grep -qF "$full" err.txt || fail "no reason for standard output: $(cat err.txt)"

# the log: a device is appended to, so the write itself must fail
expect_fail "nnc: /dev/full: cannot write: No space left on device" "$NNC" train "$xor" --epochs 2 --quiet --log /dev/full
[[ $(wc -l <err.txt) -eq 1 ]] || fail "--log /dev/full: the failure is said more than once: $(cat err.txt)"

# replaced outputs refuse a device before any work
dev="/dev/full: is a character device, not a regular file; nnc replaces output files whole and would remove it"
expect_fail "$dev" "$NNC" train "$xor" --epochs 2 --quiet --save /dev/full
expect_fail "$dev" "$NNC" predict "$xor" --weights w.ckpt --input "$csv" --output /dev/full
expect_fail "$dev" "$NNC" compile "$xor" -o /dev/full
expect_fail "$dev" "$NNC" compile "$xor" -o x.o --header /dev/full
expect_fail "$dev" "$NNC" compile "$xor" -o x.o --weights w.ckpt --weights-file /dev/full
[[ -c /dev/full ]] || fail "/dev/full is no longer a device"

# a directory as every output path
mkdir d d.png
expect_fail "d: is a directory (give a file name)" "$NNC" train "$xor" --epochs 2 --quiet --save d
expect_fail "d: is a directory (give a file name)" "$NNC" train "$xor" --epochs 2 --quiet --log d
expect_fail "d.png: is a directory (give a file name)" "$NNC" train "$xor" --epochs 2 --quiet --plot d.png
expect_fail "d: is a directory (give a file name)" "$NNC" predict "$xor" --weights w.ckpt --input "$csv" --output d
expect_fail "d: is a directory (give a file name)" "$NNC" compile "$xor" -o d
expect_fail "d: is a directory (give a file name)" "$NNC" compile "$xor" -o x.o --header d
expect_fail "d: is a directory (give a file name)" "$NNC" compile "$xor" -o x.o --weights w.ckpt --weights-file d
expect_fail "d/no/x.ckpt: cannot write into d/no: No such file or directory" \
  "$NNC" train "$xor" --epochs 2 --quiet --save d/no/x.ckpt
"$NNC" train "$xor" --epochs 2 --quiet --log plot.json >/dev/null
expect_fail "d.png: is a directory (give a file name)" "$NNC" plot plot.json -o d.png

# a symbolic link is refused and stays a link; a FIFO is refused and stays
ln -s w.ckpt link.ckpt
cp w.ckpt before.ckpt
expect_fail "link.ckpt: is a symbolic link to w.ckpt;" "$NNC" train "$xor" --epochs 3 --quiet --save link.ckpt
[[ -L link.ckpt ]] || fail "the link was replaced"
cmp w.ckpt before.ckpt || fail "the link's target changed"
mkfifo pipe
expect_fail "pipe: is a FIFO, not a regular file" "$NNC" compile "$xor" -o pipe
[[ -p pipe ]] || fail "the FIFO was replaced"
[[ ! -e x.o && ! -e x.h ]] || fail "a refused compile wrote files"

# two trainers, one checkpoint: the second is refused naming the first
"$NNC" train "$xor" --epochs 1000000 --save-every 1 --quiet --save shared.ckpt >/dev/null 2>first.txt &
first=$!
appears shared.ckpt 60 $first   # training, SIGINT handled
expect_fail "shared.ckpt: in use by process $first (it holds shared.ckpt.lock)" \
  "$NNC" train "$xor" --epochs 2 --quiet --save shared.ckpt
kill -INT $first
status=0
wait $first || status=$?
[[ $status -eq 130 ]] || fail "the first trainer exited $status: $(cat first.txt)"
[[ ! -e shared.ckpt.lock ]] || fail "the lock file was left behind"
"$NNC" train "$xor" --epochs 1 --quiet --resume shared.ckpt >/dev/null 2>err.txt ||
  fail "the first trainer's checkpoint does not resume: $(cat err.txt)"

# an output never replaces what the run reads, nor another output
cp "$xor" model.nn
mkdir -p data && cp "$csv" data/xor.csv
sum=$(cat model.nn data/xor.csv w.ckpt | md5sum)
expect_fail "--save model.nn would replace model.nn, which this run reads" "$NNC" train model.nn --save model.nn
expect_fail "--log ./model.nn would replace model.nn" "$NNC" train model.nn --log ./model.nn
expect_fail "--save data/xor.csv would replace data/xor.csv" "$NNC" train model.nn --save data/xor.csv
expect_fail "--log w.ckpt would replace the checkpoint this run resumes from" \
  "$NNC" train model.nn --resume w.ckpt --log w.ckpt
expect_fail "--save and --log both name b.ckpt" "$NNC" train model.nn --save b.ckpt --log b.ckpt
expect_fail "--output data/xor.csv would replace data/xor.csv" \
  "$NNC" predict model.nn --weights w.ckpt --input data/xor.csv --output data/xor.csv
[[ $(cat model.nn data/xor.csv w.ckpt | md5sum) == "$sum" ]] || fail "an input was replaced"
cp w.ckpt again.ckpt
"$NNC" train model.nn --quiet --epochs 3 --resume again.ckpt --save again.ckpt >/dev/null ||
  fail "saving over the checkpoint a run resumes from is refused"
# a log started afresh is never truncated through a link
echo precious >victim && ln -s victim loglink
expect_fail "loglink: is a symbolic link; nnc starts a log afresh only in a regular file" \
  "$NNC" train model.nn --quiet --log loglink
[[ $(cat victim) == precious ]] || fail "the link's target was truncated"

ls ./*.tmp.* 2>/dev/null && fail "temporary files left behind"
echo "every output path fails cleanly"
