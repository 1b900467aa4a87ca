# kill -9 at random moments: during `train --save-every 1` (a 2.8 MB
# checkpoint written every epoch) the checkpoint is always complete and
# resumable; during `compile` the object is either absent or complete.  No
# temporary file remains: unnamed temporaries vanish with the process, and
# the one a kill can leave in the instant between link and rename is removed
# by the next write to the same file.
source "$(dirname "$0")/lib.sh"
model=$ROOT/examples/fashion_mlp.nn
train=(train "$model" --limit 200 --batch 50 --epochs 100000 --save-every 1 --save run.ckpt --quiet)
RANDOM=12   # the same moments on every run of the test
temps() { find . -maxdepth 1 -name '*.tmp.*' | sort; }
# only_dead NAME: every temporary present is NAME.tmp.PID (NAME a glob) of a process killed here
killed=" "
window=0
only_dead() {
  local t
  for t in $(temps); do
    [[ $t == ./$1.tmp.* && $killed == *" ${t##*.} "* ]] || fail "unexpected temporary file: $t"
  done
}
for i in $(seq 8); do
  "$NNC" "${train[@]}" >/dev/null 2>&1 &
  pid=$!
  until [[ -s run.ckpt ]] || ! kill -0 $pid 2>/dev/null; do sleep 0.05; done
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 $pid
  wait $pid 2>/dev/null || true
  killed+="$pid "
  only_dead run.ckpt   # killed between link and rename; the next write removes it
  [[ -e run.ckpt.tmp.$pid ]] && window=$((window + 1))
  "$NNC" train "$model" --limit 200 --batch 50 --epochs 1 --resume run.ckpt >out.txt 2>&1 ||
    fail "kill $i: the checkpoint does not resume: $(cat out.txt)"
  grep -q "already trained" out.txt || fail "kill $i: unexpected resume: $(cat out.txt)"
done
# the next write removes what the dead left; the lock file of a killed run is taken over
"$NNC" train "$model" --limit 200 --batch 50 --epochs 1 --save run.ckpt --quiet >/dev/null
[[ -z $(temps) ]] || fail "temporary files remain: $(temps)"
[[ ! -e run.ckpt.lock ]] || fail "the lock file remains after a run that ended"

# compile: the object is the complete one or none at all
"$NNC" compile "$model" -o ref.o >/dev/null
for i in $(seq 6); do
  rm -f m.o m.h
  "$NNC" compile "$model" -o m.o >/dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  killed+="$pid "
  [[ ! -e m.o ]] || cmp -s m.o ref.o || fail "compile killed: m.o is not the complete object"
  only_dead 'm.[oh]'
done
"$NNC" compile "$model" -o m.o >/dev/null
[[ -z $(temps) ]] || fail "temporary files remain after compile: $(temps)"
cmp m.o ref.o || fail "objects differ"
echo "14 kills, no partial file, $window left a temporary in the link-to-rename instant (removed by the next write)"
