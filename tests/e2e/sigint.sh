# SIGINT during training saves a checkpoint atomically and exits with 130;
# the checkpoint resumes.
source "$(dirname "$0")/lib.sh"
model=$ROOT/examples/fashion_mlp.nn
"$NNC" train "$model" --epochs 1000 --limit 2000 --quiet --save run.ckpt >out.txt 2>err.txt &
pid=$!
for _ in $(seq 50); do
  sleep 0.2
  grep -q . err.txt 2>/dev/null && break
  [[ -s out.txt ]] && break
  kill -0 $pid 2>/dev/null || break
done
sleep 2
kill -INT $pid
status=0
wait $pid || status=$?
[[ $status -eq 130 ]] || { cat err.txt; fail "exit status $status, expected 130"; }
grep -q "interrupted; saved run.ckpt" err.txt || fail "no message about the saved checkpoint: $(cat err.txt)"
[[ -f run.ckpt ]] || fail "no checkpoint written"
ls run.ckpt.tmp* 2>/dev/null && fail "temporary file left behind"
"$NNC" train "$model" --epochs 1 --limit 200 --resume run.ckpt --quiet >/dev/null || true
"$NNC" eval "$model" --weights run.ckpt >eval.txt || fail "eval of the saved checkpoint failed"
cat eval.txt
