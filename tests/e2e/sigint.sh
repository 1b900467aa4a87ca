# SIGINT during training saves a checkpoint atomically and exits with 130;
# --resume then finishes the run, and the checkpoint evaluates.
source "$(dirname "$0")/lib.sh"
model=$ROOT/examples/fashion_mlp.nn
# 300 short epochs outlast the interrupt; under memcheck (tests/valgrind.sh)
# one epoch takes many seconds, and 300 would take hours to resume, so 8 do.
epochs=$((SLOW > 1 ? 8 : 300))
args=(--epochs $epochs --limit 500 --quiet --save run.ckpt --log log.json)
"$NNC" train "$model" "${args[@]}" >out.txt 2>err.txt &
pid=$!
appears log.json 60 $pid   # the first epoch is done
sleep 0.5
kill -INT $pid
status=0
wait $pid || status=$?
[[ $status -eq 130 ]] || { cat err.txt; fail "exit status $status, expected 130"; }
grep -q "interrupted; saved run.ckpt" err.txt || fail "no message about the saved checkpoint: $(cat err.txt)"
[[ -f run.ckpt ]] || fail "no checkpoint written"
ls run.ckpt.tmp* 2>/dev/null && fail "temporary file left behind"
stopped=$(json_field log.json epoch)
[[ $stopped -lt $epochs ]] || fail "the run finished before the interrupt"
"$NNC" train "$model" "${args[@]}" --resume run.ckpt >/dev/null || fail "resuming failed"
[[ $(json_field log.json epoch) -eq $epochs ]] || fail "the resumed run did not reach epoch $epochs"
"$NNC" eval "$model" --weights run.ckpt >eval.txt || fail "eval of the saved checkpoint failed"
echo "interrupted after epoch $stopped, resumed to $epochs: $(cat eval.txt)"
