# nnc plot draws the curves of a real training log as PNG, SVG and PDF: the
# PNG has the layout's size (one 440-pixel panel per quantity: loss and
# accuracy here), and bad requests are refused with the reason.
source "$(dirname "$0")/lib.sh"
"$NNC" train "$ROOT/examples/fashion_mlp.nn" --limit 600 --epochs 3 --quiet --log run.json >/dev/null
"$NNC" plot run.json -o curves.png
[[ $(head -c 8 curves.png | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "curves.png is not a PNG"
width=$(od -An -tu1 -j16 -N4 curves.png | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
height=$(od -An -tu1 -j20 -N4 curves.png | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
[[ $width == 880 && $height == 374 ]] || fail "curves.png is ${width}x$height, expected 880x374"
"$NNC" plot run.json -o curves.svg --title "three epochs"
grep -q "<svg" curves.svg || fail "curves.svg is not SVG"
"$NNC" plot run.json -o curves.pdf
[[ $(head -c 5 curves.pdf) == %PDF- ]] || fail "curves.pdf is not a PDF"
if "$NNC" plot run.json -o curves.jpg 2>err.txt; then fail "a .jpg name was accepted"; fi
grep -qF "curves.jpg: the picture's name must end in .png, .svg or .pdf" err.txt || fail "$(cat err.txt)"
if "$NNC" plot run.json 2>err.txt; then fail "plot without -o was accepted"; fi
grep -qF "nnc plot: -o FILE is required" err.txt || fail "$(cat err.txt)"
# a scheduled learning rate is logged each epoch and drawn in a third panel
sed 's/^  epochs = 10$/  epochs = 10\n  schedule = step(every = 1, gamma = 0.5)/' "$ROOT/examples/fashion_mlp.nn" >sched.nn
grep -q schedule sched.nn || fail "could not add a schedule to fashion_mlp.nn"
"$NNC" train sched.nn --limit 600 --epochs 3 --quiet --log sched.json >/dev/null
[[ $(grep -o '"lr": [0-9.e-]*' sched.json | cut -d' ' -f2 | tr '\n' ' ') == "0.001 0.0005 0.00025 " ]] ||
  fail "the logged rates are not halved each epoch: $(grep -o '"lr": [0-9.e-]*' sched.json | tr '\n' ' ')"
"$NNC" plot sched.json -o sched.png
swidth=$(od -An -tu1 -j16 -N4 sched.png | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
[[ $swidth == 1320 ]] || fail "sched.png is $swidth pixels wide, expected three 440-pixel panels"
# two runs at two constant rates in one log: no learning-rate panel (the rate
# changes between the runs, not within one)
"$NNC" train "$ROOT/examples/fashion_mlp.nn" --limit 600 --epochs 2 --quiet --log two.json >/dev/null
"$NNC" train "$ROOT/examples/fashion_mlp.nn" --limit 600 --epochs 2 --quiet --log two.json --log-append --lr 0.002 >/dev/null
"$NNC" plot two.json -o two.png
twidth=$(od -An -tu1 -j16 -N4 two.png | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
[[ $twidth == 880 ]] || fail "two.png is $twidth pixels wide: a rate that differs only between runs got a panel"
ls ./*.tmp.* 2>/dev/null && fail "a temporary picture was left behind"
echo "plotted ${width}x$height, with a learning-rate panel ${swidth}x$height"
