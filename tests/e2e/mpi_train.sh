# Data-parallel training over MPI (docs/distributed.md), 2 ranks on this
# machine against one process:
#  - fashion_mlp on 6000 samples for 2 epochs: the same per-epoch losses, test
#    loss and accuracy, and final weights to 1e-5 relative (only the order of
#    the gradient sums differs);
#  - saved after epoch 1 at 2 ranks and resumed in one process, the run ends
#    within 1e-5 of a straight one-process run (fashion_mlp with tanh for relu,
#    under SGD: a ReLU's gradient is a step, so rounding that moves a
#    pre-activation across 0 changes a gradient by a finite amount, and under
#    Adam the run is chaotic near that checkpoint; docs/distributed.md);
#  - clipping by norm and value clips alike at 1 and 2 ranks (to 1e-5);
#  - a model with dropout draws the same masks at 1 and 2 ranks (to 1e-5),
#    and two runs with 2 ranks give the same checkpoint bytes (the second
#    with leak checks in the sanitized build);
#  - at 3 ranks, summing in shared memory and around the ring (as across
#    machines, or without room for shared memory) give the same checkpoint
#    bytes;
#  - a model of two heads gets the same test line (each head's accuracy
#    combined over the ranks);
#  - fashion_features (batch norm, validation, clipping, early stopping)
#    trains at 2 ranks, and the ranks' weights stay identical (checked after
#    every epoch by the run itself).
source "$(dirname "$0")/lib.sh"
mpi_setup mpi_train
M=$ROOT/examples/fashion_mlp.nn
opts=(--limit 6000 --epochs 2 --quiet --threads 1)

# close_logs A B: every loss and accuracy of two --log files within 1e-5 relative
close_logs() {
  paste -d '\n' <(grep -o '"\(train\|test\|val\)_[a-z]*": [-0-9.e+]*' "$1") \
    <(grep -o '"\(train\|test\|val\)_[a-z]*": [-0-9.e+]*' "$2") |
    awk -F': ' 'NR % 2 { k = $1; a = $2; next }
      { d = a - $2; if (d < 0) d = -d; m = a < 0 ? -a : a
        if ($1 != k || d > 1e-5 * m) { print "differ: " k " " a " " $2; bad = 1 } n++ }
      END { exit bad || n == 0 }'
}

"$NNC" train "$M" "${opts[@]}" --log one.log --save one.ckpt >one.out
mpi 2 "$NNC" train "$M" "${opts[@]}" --log two.log --save two.ckpt >two.out
[[ $(grep -c '"epoch"' two.log) == 3 ]] || fail "rank 0 should log 2 epochs and the test once: $(cat two.log)"
close_logs one.log two.log || fail "2 ranks give other losses than one process"
python3 "$ROOT/tests/e2e/ckpt_close.py" one.ckpt two.ckpt 1e-5 || fail "2 ranks end with other weights"
grep -q "test loss" two.out || fail "rank 0 prints the results: $(cat two.out)"
[[ $(grep -c "test loss" two.out) == 1 ]] || fail "only rank 0 prints: $(cat two.out)"

# clipping by the global norm (and by value): the norm summed over the
# ranks' slices of the sharded update clips as one process's does
sed 's/adam(lr = 0.001)/adam(lr = 0.001, clip_norm = 0.5, clip_value = 0.05)/; s/relu(/tanh(/' "$M" >clip.nn   # smooth: see below
"$NNC" train clip.nn "${opts[@]}" --save clip1.ckpt >/dev/null
mpi 2 "$NNC" train clip.nn "${opts[@]}" --save clip2.ckpt >/dev/null
python3 "$ROOT/tests/e2e/ckpt_close.py" clip1.ckpt clip2.ckpt 1e-5 || fail "clip_norm: 2 ranks end with other weights"

# a model of two heads: each head's accuracy is summed over the ranks too
H=$ROOT/examples/fashion_two_heads.nn
"$NNC" train "$H" --limit 1200 --epochs 1 --quiet --threads 1 >heads_one.out
mpi 2 "$NNC" train "$H" --limit 1200 --epochs 1 --quiet --threads 1 >heads_two.out
diff <(grep "test loss" heads_one.out) <(grep "test loss" heads_two.out) ||
  fail "2 ranks give other test metrics for a model of two heads"

sed 's/adam(lr = 0.001)/sgd(lr = 0.1)/; s/relu(/tanh(/' "$M" >smooth.nn
"$NNC" train smooth.nn "${opts[@]}" --save straight.ckpt >/dev/null
mpi 2 "$NNC" train smooth.nn "${opts[@]}" --epochs 1 --save half.ckpt >/dev/null
"$NNC" train smooth.nn "${opts[@]}" --resume half.ckpt --save resumed.ckpt >/dev/null
python3 "$ROOT/tests/e2e/ckpt_close.py" straight.ckpt resumed.ckpt 1e-5 || fail "2 ranks then 1 differ from one process"

cat >drop.nn <<NN
model drop
input x : [784]
target y : class(10)
h = dropout(relu(dense(x, 64)), p = 0.5)
loss cross_entropy(dense(h, 10), y)
optimizer sgd(lr = 0.1)
train {
  data = idx("/usr/share/datasets/fashion-mnist/train", scale = 1/255)
  epochs = 2
  batch = 50
  seed = 3
}
NN
"$NNC" train drop.nn --limit 1000 --quiet --log d1.log --save d1.ckpt >/dev/null
mpi 2 "$NNC" train drop.nn --limit 1000 --quiet --log d2.log --save d2.ckpt >/dev/null
close_logs d1.log d2.log || fail "dropout: 2 ranks give other losses"
python3 "$ROOT/tests/e2e/ckpt_close.py" d1.ckpt d2.ckpt 1e-5 || fail "dropout: 2 ranks draw other masks"
mpi_leakcheck 2 "$NNC" train drop.nn --limit 1000 --quiet --save again.ckpt >/dev/null ||
  fail "dropout at 2 ranks, leaks checked (sanitized build)"
cmp d2.ckpt again.ckpt || fail "two runs with 2 ranks differ"
# ranks on one machine sum in shared memory, across machines around a ring
# (forced here by a simulated link fast enough to cost nothing): the same
# order of sums, so the same bits, at 3 ranks where the order matters
mpi 3 "$NNC" train drop.nn --limit 1000 --quiet --save d3.ckpt >/dev/null
NNC_TEST_LINK=1000000000,0 mpi 3 "$NNC" train drop.nn --limit 1000 --quiet --save d3ring.ckpt >/dev/null
cmp d3.ckpt d3ring.ckpt || fail "3 ranks: shared memory and the ring sum differently"
# no room where Open MPI backs shared memory: the ring, said once, same bits
OMPI_MCA_osc_sm_backing_directory=$PWD/nonexistent mpi 3 "$NNC" train drop.nn --limit 1000 --quiet \
  --save d3full.ckpt >/dev/null 2>full.err || fail "3 ranks without room for shared memory: $(cat full.err)"
[[ $(grep -c "cannot hold the .* MiB the ranks would share" full.err) == 1 ]] || fail "no note of the ring: $(cat full.err)"
cmp d3.ckpt d3full.ckpt || fail "3 ranks without room for shared memory: other bits"

mpi 2 "$NNC" train "$ROOT/examples/fashion_features.nn" --limit 2000 --epochs 2 --quiet >ff.out ||
  fail "fashion_features at 2 ranks: $(cat ff.out)"
grep -q "test loss" ff.out || fail "fashion_features at 2 ranks printed no results"
# more ranks than the parameters have slices: a rank with an empty slice still
# takes part in summing the norm (it used to leave the others waiting)
sed -e 's/adam(lr = 0.05)/adam(lr = 0.05, clip_norm = 1)/' -e "s#\"data/xor.csv\"#\"$ROOT/examples/data/xor.csv\"#" \
  "$ROOT/examples/xor.nn" >xorclip.nn
"$NNC" train xorclip.nn --epochs 20 --quiet --log xor1.log --save xor1.ckpt >/dev/null
mpi 5 "$NNC" train xorclip.nn --epochs 20 --log xor5.log --save xor5.ckpt >xor5.out || fail "5 ranks, clip_norm: failed or hung"
python3 "$ROOT/tests/e2e/ckpt_close.py" xor1.ckpt xor5.ckpt 1e-5 || fail "5 ranks, clip_norm: other weights"
# its global batch of 4 leaves rank 0's shard empty: rank 0's progress line
# (mpirun gives it a terminal) shows the global batch's loss all the same,
# which each epoch's line repeats, and the log has one process's losses
! grep -qi nan xor5.out || fail "5 ranks, an empty shard on rank 0: a NaN printed: $(cat -v xor5.out)"
tr '\r' '\n' <xor5.out | sed -n 's/.*epoch [0-9]*\/20 *\(\[1\/1\]\)\{0,1\} *\(train \)\{0,1\}loss \([-0-9.e+]*\).*/\3/p' >xor5.losses
(($(wc -l <xor5.losses) == 40)) || fail "5 ranks: no progress and epoch line for every epoch: $(cat -v xor5.out)"
paste - - <xor5.losses | awk '$1 != $2 { exit 1 }' || fail "5 ranks: progress and epoch losses differ: $(cat -v xor5.out)"
close_logs xor1.log xor5.log || fail "5 ranks, an empty shard on rank 0: other losses than one process"
echo "2 ranks: the losses and weights of one process, bit-identical twice, resumed at 1 rank, same dropout masks; 5 ranks of a tiny model"
