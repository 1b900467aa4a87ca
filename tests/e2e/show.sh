# nnc predict --show N -o grid.png draws the first N image samples with their
# predicted and true classes (a Fashion-MNIST classifier: 12 images in rows
# of 10), or an autoencoder's reconstructions beside its inputs; inputs that
# are not images, and --show without a picture name, are refused.
source "$(dirname "$0")/lib.sh"
png_size() {  # png_size FILE: "WIDTHxHEIGHT" from the PNG header
  od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'
}
model=$ROOT/examples/fashion_mlp.nn
"$NNC" train "$model" --limit 500 --epochs 1 --quiet --save f.ckpt >/dev/null
"$NNC" predict "$model" --weights f.ckpt --input /usr/share/datasets/fashion-mnist/t10k --show 12 -o grid.png
[[ $(png_size grid.png) == 1280x304 ]] || fail "grid.png is $(png_size grid.png), expected two rows of ten 128-pixel cells"
# an autoencoder on 4x4 patterns: each cell pairs the input and the output
cat >ae.nn <<'NN'
model ae
input  x : [4, 4]
target y : [4, 4]
out  = reshape(dense(tanh(dense(flatten(x), 4)), 16), [4, 4])
loss mse(out, y)
optimizer adam(lr = 0.01)
train {
  data = csv("ae.csv")
  epochs = 20
  batch = 8
}
NN
awk 'BEGIN { for (i = 0; i < 16; i++) { s = ""; for (p = 0; p < 16; p++) s = s (p ? "," : "") (p % 4 == i % 4); print s "," s } }' >ae.csv
"$NNC" train ae.nn --quiet --save ae.ckpt >/dev/null
"$NNC" predict ae.nn --weights ae.ckpt --input ae.csv --show 3 -o ae.svg
grep -q "<svg" ae.svg || fail "ae.svg is not SVG"
"$NNC" predict ae.nn --weights ae.ckpt --input ae.csv --show 3 -o ae.png
[[ $(png_size ae.png) == 768x172 ]] || fail "ae.png is $(png_size ae.png), expected three 256-pixel pairs"
if "$NNC" predict ae.nn --weights ae.ckpt --input ae.csv --show 3 >/dev/null 2>err.txt; then fail "--show without -o"; fi
grep -qF -- "--show draws a picture: give its name with -o NAME.png" err.txt || fail "$(cat err.txt)"
"$NNC" train "$ROOT/examples/xor.nn" --quiet --save xor.ckpt >/dev/null
if "$NNC" predict "$ROOT/examples/xor.nn" --weights xor.ckpt --input "$ROOT/examples/data/xor.csv" --show 4 -o x.png 2>err.txt; then
  fail "--show on a [2] input"
fi
grep -qF -- "--show draws image inputs; x is [2], not [H, W], [1, H, W] or a square number of values" err.txt || fail "$(cat err.txt)"
echo "shown: grid.png $(png_size grid.png), ae.png $(png_size ae.png)"
