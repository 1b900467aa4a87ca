# A file-size limit, a full file system (a 1 MiB tmpfs) and a read-only bind
# mount as the output directory.  Every write fails with a clear error naming
# the file, exit status 1; the old checkpoint stays byte-identical; no
# temporary file or empty log is left.  The file-size limit needs no
# privileges; the mounts need mount(2) and are skipped with a message where
# the test may not mount (not root, or no CAP_SYS_ADMIN).
source "$(dirname "$0")/lib.sh"
xor=$ROOT/examples/xor.nn

# ulimit -f with SIGXFSZ ignored: a write past 1 KiB fails with EFBIG
limited() { (trap '' XFSZ; ulimit -f 1; "$@"); }
"$NNC" train "$xor" --epochs 3 --quiet --no-cache --save lim.ckpt >/dev/null
"$NNC" compile "$xor" -o lim.o >/dev/null
cp lim.ckpt lim-before.ckpt
cp lim.o lim-before.o
expect_too_large() {
  local status=0
  limited "$@" >out.txt 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "$* under ulimit -f exited $status: $(cat err.txt)"
  grep -qE "^nnc( compile)?: lim\.[a-z]+: cannot write: File too large$" err.txt ||
    fail "$* under ulimit -f: $(cat err.txt)"
}
expect_too_large "$NNC" train "$xor" --epochs 6 --quiet --no-cache --save lim.ckpt
cmp lim.ckpt lim-before.ckpt || fail "the old checkpoint changed under ulimit -f"
expect_too_large "$NNC" compile "$xor" -o lim.o
cmp lim.o lim-before.o || fail "the old object changed under ulimit -f"
[[ -z $(find . -name '*.tmp.*') ]] || fail "temporary files left under ulimit -f: $(find . -name '*.tmp.*')"

mkdir full ro
if ! mount -t tmpfs -o size=1m nnc-full-test full 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"
  exit 0
fi
trap 'umount full 2>/dev/null; umount ro 2>/dev/null; rm -rf "$WORK"' EXIT

"$NNC" train "$xor" --epochs 3 --quiet --save full/run.ckpt --log full/log.json >/dev/null
"$NNC" compile "$xor" -o full/x.o >/dev/null
cp full/run.ckpt before.ckpt
cp full/x.o before.o
head -c 2000000 /dev/zero >full/filler 2>/dev/null || true   # fills it

# expect_full CMD...: exit 1 and "No space left on device", naming a file in full/
expect_full() {
  local status=0
  "$@" >out.txt 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "$* exited $status: $(cat err.txt)"
  grep -qE "^nnc( compile)?: full/[a-z.]+: cannot write: No space left on device$" err.txt ||
    fail "$*: $(cat err.txt)"
}
expect_full "$NNC" train "$xor" --epochs 6 --quiet --save full/run.ckpt
cmp full/run.ckpt before.ckpt || fail "the old checkpoint changed"
expect_full "$NNC" train "$xor" --epochs 6 --quiet --log full/new.json
[[ ! -e full/new.json ]] || fail "an empty log was left behind"
expect_full "$NNC" compile "$xor" -o full/y.o
expect_full "$NNC" compile "$xor" -o full/x.o
cmp full/x.o before.o || fail "the old object changed"
expect_full "$NNC" predict "$xor" --weights before.ckpt --input "$ROOT/examples/data/xor.csv" --output full/p.txt
left=$(find full -name '*.tmp.*')
[[ -z $left ]] || fail "temporary files left: $left"
[[ $(ls full | sort | tr '\n' ' ') == "filler log.json run.ckpt x.h x.o " ]] || fail "unexpected files: $(ls full)"

# a read-only bind mount: refused before any work
mount --bind "$PWD/ro" ro && mount -o remount,bind,ro ro || fail "cannot make a read-only bind mount"
for cmd in "train $xor --epochs 2 --quiet --save ro/run.ckpt" "compile $xor -o ro/x.o" \
           "predict $xor --weights before.ckpt --input $ROOT/examples/data/xor.csv --output ro/p.txt"; do
  status=0
  "$NNC" $cmd >out.txt 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "nnc $cmd exited $status"
  grep -qE "ro/[a-z.]+: cannot write into ro: Read-only file system" err.txt || fail "nnc $cmd: $(cat err.txt)"
done
echo "full disk and read-only directory: clean errors, old files intact"
