# The compile cache: a second run loads every graph instead of compiling
# (no LLVM stage in --timings) and trains to the same bytes; --no-cache
# compiles afresh; a cache that cannot be created costs one note and nothing
# else; threads change nothing (1, 2 and 3 give the same checkpoint).
source "$(dirname "$0")/lib.sh"
export XDG_CACHE_HOME=$WORK/cache
model=$ROOT/examples/regression.nn
"$NNC" train "$model" --quiet --epochs 3 --save cold.ckpt --timings 2>cold.err
grep -q "LLVM optimize" cold.err || fail "the first run did not compile: $(cat cold.err)"
ls "$XDG_CACHE_HOME"/nnc/*.o >/dev/null || fail "nothing was cached"
[[ $(stat -c %a "$XDG_CACHE_HOME/nnc") == 700 ]] || fail "cache directory is not private"
"$NNC" train "$model" --quiet --epochs 3 --save warm.ckpt --timings 2>warm.err
grep -q "LLVM" warm.err && fail "the second run compiled again: $(cat warm.err)"
cmp cold.ckpt warm.ckpt || fail "cached code trained differently"
"$NNC" train "$model" --quiet --epochs 3 --save fresh.ckpt --no-cache --timings 2>fresh.err
grep -q "LLVM optimize" fresh.err || fail "--no-cache did not compile"
cmp cold.ckpt fresh.ckpt || fail "--no-cache trained differently"

XDG_CACHE_HOME=/proc/self/no/such/dir "$NNC" train "$model" --quiet --epochs 3 --save nocache.ckpt 2>note.err
[[ $(grep -c "note: cannot create the compile cache" note.err) == 1 ]] || fail "expected one note: $(cat note.err)"
cmp cold.ckpt nocache.ckpt || fail "training without a cache differs"

for t in 1 2 3; do
  "$NNC" train "$ROOT/examples/fashion_features.nn" --quiet --epochs 2 --limit 700 --batch 50 --threads $t \
    --save threads$t.ckpt --log threads$t.json
done
cmp threads1.ckpt threads2.ckpt || fail "2 threads differ from 1"
cmp threads1.ckpt threads3.ckpt || fail "3 threads differ from 1"
untimed() { sed -E 's/"[a-z_]*(seconds|second|time)[a-z_]*": [^,}]*//g' "$1"; }
diff <(untimed threads1.json) <(untimed threads3.json) || fail "the logs of 1 and 3 threads differ"
# --profile on two threads times every kernel and trains to the same bytes
bounded 120 "$NNC" train "$ROOT/examples/fashion_features.nn" --quiet --epochs 2 --limit 700 --batch 50 --threads 2 \
  --save profiled.ckpt --profile 2>profile.err || fail "--profile on 2 threads failed or hung: $(tail -3 profile.err)"
grep -q "runs, .* us per run (2 threads" profile.err || fail "no profile: $(cat profile.err)"
cmp threads1.ckpt profiled.ckpt || fail "--profile on 2 threads trained differently"

# an existing cache directory on a read-only file system: one note, same result
mkdir -p ro/nnc && chmod 700 ro/nnc
if mount --bind "$PWD/ro" ro 2>/dev/null && mount -o remount,bind,ro ro 2>/dev/null; then
  XDG_CACHE_HOME=$PWD/ro "$NNC" train "$model" --quiet --epochs 3 --save rofs.ckpt 2>rofs.err
  rc=$?
  umount ro
  ((rc == 0)) || fail "a read-only cache stopped training: $(cat rofs.err)"
  [[ $(grep -c "^nnc: note: .*compile cache" rofs.err) == 1 ]] || fail "expected one note: $(cat rofs.err)"
  cmp cold.ckpt rofs.ckpt || fail "training with a read-only cache differs"
else
  umount ro 2>/dev/null
  echo "read-only cache skipped: cannot bind-mount here (needs root with CAP_SYS_ADMIN)" >&2
fi
echo "cache hit, miss, unusable and read-only cache; 1, 2 and 3 threads and --profile bit-identical"
