# Learning-rate schedules: step(every = 2, gamma = 0.5) halves the logged rate
# after epochs 2 and 4, --lr moves the base rate without changing the
# schedule or recompiling anything, reduce_on_plateau cuts the rate when the loss stalls, and a run
# stopped mid-schedule and resumed (at an epoch boundary, and by Ctrl-C in the
# middle of an epoch) writes the same checkpoint bytes as a straight run.
source "$(dirname "$0")/lib.sh"
model() {   # model NAME SCHEDULE EPOCHS: a small regression with that schedule
  cat >"$1.nn" <<NN
model $1
input  x : [3]
target y : []
h    = tanh(dense(x, 16))
pred = dense(h, 1)
loss mse(pred, y)
optimizer momentum(lr = 0.1)
train {
  data     = csv("$ROOT/examples/data/regression.csv", header = true, standardize = true)
  validation_split = 0.2
  epochs   = $3
  batch    = 16
  schedule = $2
}
NN
}
lrs() { sed -n 's/.*"lr": \([^,]*\),.*/\1/p' "$1" | tr '\n' ' '; }

model step "step(every = 2, gamma = 0.5)" 6
"$NNC" train step.nn --quiet --log step.json >/dev/null
[[ $(lrs step.json) == "0.1 0.1 0.05 0.05 0.025 0.025 " ]] ||
  fail "step schedule logged $(lrs step.json)"
"$NNC" train step.nn --quiet --lr 0.4 --log step_lr.json >/dev/null
[[ $(lrs step_lr.json) == "0.4 0.4 0.2 0.2 0.1 0.1 " ]] ||
  fail "step schedule with --lr 0.4 logged $(lrs step_lr.json)"
"$NNC" train step.nn --epochs 3 >lines.txt
grep -q "^epoch 3/3 .* lr 0.05 " lines.txt || fail "the epoch line does not show the rate: $(cat lines.txt)"

# --lr changes no compiled code: a run with it takes every graph from the
# compile cache a run without it filled (a cache of this test's own)
export XDG_CACHE_HOME=$WORK/cache
"$NNC" train step.nn --quiet --epochs 1 --timings >/dev/null 2>first.txt
"$NNC" train step.nn --quiet --epochs 1 --timings --lr 0.3 >/dev/null 2>second.txt
grep -q '^compile stages: .*LLVM' first.txt || fail "the first run compiled nothing: $(cat first.txt)"
grep -q '^compile stages: ' second.txt || fail "the second run printed no compile stages: $(cat second.txt)"
grep -q '^compile stages: .*LLVM' second.txt && fail "--lr recompiled: $(cat second.txt)"

# a run stopped after epoch 3 of 6 and resumed gives the straight run's bytes
"$NNC" train step.nn --quiet --save straight.ckpt >/dev/null
"$NNC" train step.nn --quiet --epochs 3 --save half.ckpt >/dev/null
"$NNC" train step.nn --quiet --resume half.ckpt --save resumed.ckpt >/dev/null
cmp straight.ckpt resumed.ckpt || fail "step: the resumed run's checkpoint differs"

model plateau "reduce_on_plateau(patience = 1, factor = 0.5)" 30
"$NNC" train plateau.nn --quiet --log plateau.json --save straight.ckpt >/dev/null
[[ $(lrs plateau.json | tr ' ' '\n' | sort -u | wc -l) -gt 2 ]] || fail "reduce_on_plateau never cut: $(lrs plateau.json)"
"$NNC" train plateau.nn --quiet --epochs 13 --save half.ckpt >/dev/null
"$NNC" train plateau.nn --quiet --resume half.ckpt --log resumed.json --save resumed.ckpt >/dev/null
cmp straight.ckpt resumed.ckpt || fail "reduce_on_plateau: the resumed run's checkpoint differs"
[[ $(lrs resumed.json) == "$(lrs plateau.json | cut -d' ' -f14-)" ]] || fail "resumed rates $(lrs resumed.json)"

# Ctrl-C in the middle of a cosine schedule (whose rates depend on the epoch
# count); 8 epochs under memcheck (tests/valgrind.sh), where 300 take hours
epochs=$((SLOW > 1 ? 8 : 300))
sed -e "s/^  epochs .*/  epochs = $epochs/" -e 's/^}/  schedule = cosine(warmup = 3)\n}/' \
  -e "s|\"/usr/share|\"/usr/share|" "$ROOT/examples/fashion_mlp.nn" >cosine.nn
args=(--limit 500 --quiet)
"$NNC" train cosine.nn "${args[@]}" --save straight.ckpt >/dev/null
"$NNC" train cosine.nn "${args[@]}" --save run.ckpt --log run.json >/dev/null 2>err.txt &
pid=$!
appears run.json 60 $pid
sleep 0.3
kill -INT $pid
status=0
wait $pid || status=$?
[[ $status -eq 130 ]] || fail "cosine: exit status $status, expected 130 (did it finish first?)"
"$NNC" train cosine.nn "${args[@]}" --resume run.ckpt --save resumed.ckpt >/dev/null
cmp straight.ckpt resumed.ckpt || fail "cosine: the run resumed after Ctrl-C at epoch $(json_field run.json epoch) differs"
echo "step rates $(lrs step.json); resumed step, plateau and cosine runs identical"
