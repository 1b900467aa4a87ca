# examples/fashion_two_heads.nn as an object: `nnc compile --weights` writes
# one pointer per input and output into forward and one per input and target
# into train_step; a C program linked with libc and libm only feeds both
# inputs, gets nnc eval's accuracy for both targets on the test set and nnc
# predict's first predictions, and trains.
source "$(dirname "$0")/lib.sh"
F=/usr/share/datasets/fashion-mnist
[[ -f $F/t10k-images-idx3-ubyte.gz ]] || { echo "skipped: no Fashion-MNIST"; exit 0; }
command -v cc >/dev/null || { echo "skipped: no C compiler"; exit 0; }
D=$ROOT/examples/data
model=$ROOT/examples/fashion_two_heads.nn
"$NNC" train "$model" --limit 2000 --epochs 1 --save two.ckpt --quiet >/dev/null
"$NNC" compile "$model" --weights two.ckpt -o fashion_two_heads.o >/dev/null
grep -q '^int fashion_two_heads_forward(void \*state, const float \*image, const float \*meta, int n, float \*logits, float \*kinds);$' \
  fashion_two_heads.h || fail "forward's prototype: $(grep '_forward(' fashion_two_heads.h)"
grep -q '^float fashion_two_heads_train_step(void \*state, const float \*image, const float \*meta, const float \*label, const float \*kind);$' \
  fashion_two_heads.h || fail "train_step's prototype: $(grep '_train_step(' fashion_two_heads.h)"
cc -std=c11 -O2 -Wall -Wextra -Werror -I. "$ROOT/tests/e2e/compile_two_heads.c" fashion_two_heads.o -lm -o two
for f in "$F/t10k-images-idx3-ubyte.gz" "$D/fashion-meta-t10k.idx.gz" "$F/t10k-labels-idx1-ubyte.gz" "$D/fashion-kind-t10k.idx.gz"; do
  gzip -dc "$f" >"$(basename "$f" .gz)"
done
./two t10k-images-idx3-ubyte fashion-meta-t10k.idx t10k-labels-idx1-ubyte fashion-kind-t10k.idx >two.out
got=$(grep '^label accuracy' two.out)
want=$("$NNC" eval "$model" --weights two.ckpt | sed -n '1s/^test loss [0-9.]*  \(.*\)  (10000 samples)$/\1/p')
[[ $got == "$want" ]] || fail "object: '$got', nnc eval: '$want'"
pairs=image=$F/t10k-images-idx3-ubyte.gz,meta=$D/fashion-meta-t10k.idx.gz
diff <("$NNC" predict "$model" --weights two.ckpt --input "$pairs" --limit 5 --raw |
         awk -F';' '{ split($1, a, ","); split($2, b, ","); c = 1; for (i = 2; i <= 10; i++) if (a[i] > a[c]) c = i;
                      k = 1; for (i = 2; i <= 4; i++) if (b[i] > b[k]) k = i; printf "image %d: %d,%d\n", NR - 1, c - 1, k - 1 }') \
     <(grep '^image' two.out) >/dev/null || fail "first predictions differ from nnc predict: $(grep '^image' two.out | tr '\n' ' ')"
grep -q '^train loss' two.out || fail "no training"
echo "fashion_two_heads object: $got (= nnc eval), $(grep '^train loss' two.out)"
