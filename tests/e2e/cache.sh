# The cache: a second run loads every graph instead of compiling (no LLVM
# stage in --timings) and a large gzipped data file's items instead of
# inflating them, and trains to the same bytes; --no-cache compiles and
# inflates afresh; a cache that cannot be created costs one note and nothing
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

# Fashion-MNIST's test images (7.8 MB inflated) as training data: cached
# inflated by the first run, read back by the second, never by --no-cache
fm=/usr/share/datasets/fashion-mnist/t10k
if [[ -e $fm-images-idx3-ubyte.gz ]]; then
  cat >fm.nn <<EOF
model fm
input x : [784]
target y : class(10)
loss cross_entropy(dense(x, 10), y)
optimizer sgd(lr = 0.1)
train {
  data = idx("$fm", scale = 1/255)
  epochs = 1
  batch = 500
}
EOF
  XDG_CACHE_HOME=$WORK/fmcache "$NNC" train fm.nn --quiet --no-cache --save fm0.ckpt || fail "fm.nn did not train"
  ls "$WORK"/fmcache/nnc/*.data >/dev/null 2>&1 && fail "--no-cache filled the cache"
  XDG_CACHE_HOME=$WORK/fmcache "$NNC" train fm.nn --quiet --save fm1.ckpt || fail "fm.nn did not train"
  [[ $(ls "$WORK"/fmcache/nnc/*.data | wc -l) == 1 ]] || fail "want one data entry: $(ls "$WORK"/fmcache/nnc)"
  stored=$(stat -c %i "$WORK"/fmcache/nnc/*.data)
  XDG_CACHE_HOME=$WORK/fmcache "$NNC" train fm.nn --quiet --save fm2.ckpt || fail "fm.nn did not train"
  [[ $(stat -c %i "$WORK"/fmcache/nnc/*.data) == "$stored" ]] || fail "the third run stored the data again"
  cmp fm0.ckpt fm1.ckpt && cmp fm1.ckpt fm2.ckpt || fail "cached data trained differently"
else
  echo "data cache skipped: no $fm-images-idx3-ubyte.gz (apt-get install dataset-fashion-mnist)" >&2
fi

XDG_CACHE_HOME=/proc/self/no/such/dir "$NNC" train "$model" --quiet --epochs 3 --save nocache.ckpt 2>note.err
[[ $(grep -c "note: cannot create the cache" note.err) == 1 ]] || fail "expected one note: $(cat note.err)"
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
  [[ $(grep -c "^nnc: note: .*the cache" rofs.err) == 1 ]] || fail "expected one note: $(cat rofs.err)"
  cmp cold.ckpt rofs.ckpt || fail "training with a read-only cache differs"
else
  umount ro 2>/dev/null
  echo "read-only cache skipped: cannot bind-mount here (needs root with CAP_SYS_ADMIN)" >&2
fi
echo "cache hit, miss, data entries, unusable and read-only cache; 1, 2 and 3 threads and --profile bit-identical"
