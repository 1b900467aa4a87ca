# Faults in data-parallel training (docs/distributed.md), on this machine;
# every run is bounded in time, so a hang fails the test:
#  - a rank killed with kill -9 mid-run: the job ends, Open MPI names the
#    rank and the signal, and the last checkpoint stays intact and resumes in
#    one process (another rank count);
#  - one rank whose data file is bad: it names the file and the place, says it
#    stops every rank, and the job ends;
#  - Ctrl-C (SIGINT to mpirun) mid-epoch: rank 0 saves the position; resumed
#    at 2 ranks, the run gives a straight run's bits, and it resumes in one
#    process too;
#  - a checkpoint of one process resumed at 3 ranks (uneven shards of 21, 21
#    and 22 samples) ends within 1e-5 of a straight run.
source "$(dirname "$0")/lib.sh"
mpi_setup mpi_faults
sed 's/adam(lr = 0.001)/sgd(lr = 0.1)/; s/relu(/tanh(/' "$ROOT/examples/fashion_mlp.nn" >sgd.nn   # smooth: mpi_train.sh
opts=(--limit 6000 --quiet --threads 1)

# rank_pid PID RANK: the process of that rank among PID's descendants
rank_pid() {
  local p
  for p in $(pgrep -P "$1"); do
    if grep -qxzF "OMPI_COMM_WORLD_RANK=$2" "/proc/$p/environ" 2>/dev/null; then
      echo "$p"
      return
    fi
    rank_pid "$p" "$2"
  done
}

# wait_for FILE: until FILE exists and is not empty (2 minutes at most)
wait_for() {
  for _ in $(ticks 1200); do
    [[ -s $1 ]] && return
    sleep 0.1
  done
  fail "$1 never appeared"
}

# killed rank: rank 1 dies once the first epoch's checkpoint is written
mpi 2 "$NNC" train sgd.nn "${opts[@]}" --epochs 1000 --save-every 1 --save kill.ckpt >kill.out 2>kill.err &
job=$!
wait_for kill.ckpt
victim=$(rank_pid $job 1)
[[ -n $victim ]] || fail "no process of rank 1"
kill -9 "$victim"
status=0
wait $job || status=$?
((status != 0 && status != 124)) || fail "killed rank: the job exited $status (124: it hung)"
grep -q "process rank 1 .*exited on signal 9" kill.err || fail "killed rank: no message names rank 1: $(cat kill.err)"
epochs=$(python3 -c "import struct; print(struct.unpack_from('<q', open('kill.ckpt', 'rb').read(), 24)[0])")
"$NNC" train sgd.nn "${opts[@]}" --epochs $((epochs + 1)) --resume kill.ckpt >resume.out ||
  fail "the last checkpoint does not resume: $(cat resume.out)"

# bad data on rank 1 only: two copies of a model, each next to its own data
mkdir -p d0/data d1/data
cp "$ROOT/examples/regression.nn" d0/m.nn
cp "$ROOT/examples/regression.nn" d1/m.nn
cp "$ROOT/examples/data/regression.csv" d0/data/
sed '5s/.*/0.1,zero,0.3,0.4/' "$ROOT/examples/data/regression.csv" >d1/data/regression.csv
status=0
mpi 1 "$NNC" train d0/m.nn --quiet : -np 1 "$NNC" train d1/m.nn --quiet >bad.out 2>bad.err || status=$?
((status != 0 && status != 124)) || fail "bad data: the job exited $status (124: it hung)"
grep -q "d1/data/regression.csv:5:5: not a number" bad.err || fail "bad data: the place is not named: $(cat bad.err)"
grep -q "rank 1 of 2 failed; stopping every rank" bad.err || fail "bad data: rank 1 is not named: $(cat bad.err)"

# SIGINT at 2 ranks once the first epoch is logged, in a run far longer than
# the signal takes to arrive (mpirun passes it on a second or two later, and
# a short run could end first); then the epoch under way, n, is where the
# comparisons end: a straight run of n epochs, and the checkpoint resumed to n
long=(--limit 12000 --quiet --threads 1)
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" mpirun -np 2 "$NNC" train sgd.nn "${long[@]}" \
  --epochs 1000 --log int.log --save int.ckpt >int.out 2>int.err &
job=$!
wait_for int.log
kill -INT $job
for _ in $(ticks 600); do
  kill -0 $job 2>/dev/null || break
  sleep 0.1
done
kill -0 $job 2>/dev/null && { kill -9 $job; fail "SIGINT: mpirun still runs a minute later"; }
wait $job || true
grep -q "interrupted; saved int.ckpt" int.err || fail "SIGINT: rank 0 saved nothing: $(cat int.err)"
n=$(($(grep -c '^{"epoch"' int.log) + 1))
mpi 2 "$NNC" train sgd.nn "${long[@]}" --epochs $n --save straight.ckpt >/dev/null || fail "2 ranks"
cp int.ckpt int1.ckpt
mpi 2 "$NNC" train sgd.nn "${long[@]}" --epochs $n --resume int.ckpt --save resumed.ckpt >resumed.out ||
  fail "SIGINT: the checkpoint does not resume: $(cat resumed.out)"
cmp straight.ckpt resumed.ckpt || fail "SIGINT at 2 ranks, resumed at 2: not the straight run's bits"
"$NNC" train sgd.nn "${long[@]}" --epochs $n --resume int1.ckpt >resumed1.out || fail "SIGINT at 2 ranks, resumed at 1"
grep -q "test loss" resumed1.out || fail "SIGINT at 2 ranks, resumed at 1: no results"

# one process's checkpoint resumed at 3 ranks
"$NNC" train sgd.nn "${opts[@]}" --epochs 2 --save one2.ckpt >/dev/null
"$NNC" train sgd.nn "${opts[@]}" --epochs 1 --save one1.ckpt >/dev/null
mpi 3 "$NNC" train sgd.nn "${opts[@]}" --epochs 2 --resume one1.ckpt --save three.ckpt >/dev/null ||
  fail "resumed at 3 ranks"
python3 "$ROOT/tests/e2e/ckpt_close.py" one2.ckpt three.ckpt 1e-5 || fail "1 process then 3 ranks"
echo "killed rank, bad data on one rank, SIGINT, resumed at 1, 2 and 3 ranks"
