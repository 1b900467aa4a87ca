# What training prints reads as a person expects: a huge loss in scientific
# notation, not sixteen digits.
source "$(dirname "$0")/lib.sh"
cat >big.nn <<'NN'
model big
input x : []
target y : []
p = dense(x, 1)
loss mse(p, y)
train {
  data = csv("big.csv")
  epochs = 1
}
NN
printf '1,3000000\n2,4000000\n' >big.csv
"$NNC" train big.nn >out.txt
grep -qE "^final  train loss [0-9]\.[0-9]{3}e\+13$" out.txt || fail "a loss of 1e13: $(cat out.txt)"

# one of a thing is said in the singular
"$NNC" train "$ROOT/examples/course_graph.nn" --epochs 1 >one.txt
grep -q "^trained 1 step in " one.txt || fail "one step: $(tail -1 one.txt)"
grep -q "^final loss 12.14715 after 1 step$" one.txt || fail "the loss at the final parameters, 12.147 (17 before the step): $(grep final one.txt)"
grep -qE "^epoch 1/1  train loss 17.0000  [0-9]+ steps/s  " one.txt || fail "an input-less epoch counts steps: $(grep epoch one.txt)"
grep -q "^training course_graph: 3 parameters, no inputs (one step per epoch); 1 epoch; " one.txt || fail "one epoch: $(head -2 one.txt)"
echo "readable: $(grep final out.txt); $(grep trained one.txt)"
