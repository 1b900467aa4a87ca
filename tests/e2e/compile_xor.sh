# nnc compile: a standalone object of examples/xor.nn, linked into a plain C
# program (tests/e2e/compile_xor.c) with `cc ... -lm` only.
#  - nm: every undefined symbol of the object is defined by libc or libm;
#  - forward with embedded weights and with a --weights-file image gives the
#    same numbers as `nnc predict` with the JIT (compared as printed, %.9g:
#    bit for bit);
#  - a generic x86-64 build (no AVX-512) agrees within 1e-5 relative;
#  - xor_init(1) + 500 xor_train_step calls reach the loss `nnc train` reaches
#    (same seed, same code: bit for bit), which is below 0.01;
#  - a CPU or feature set LLVM cannot build 64-bit code for is refused with
#    LLVM's reason and leaves no file (bad.o, bad.o.tmp.PID).
source "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
EX=$ROOT/examples
cp "$ROOT/tests/e2e/compile_xor.c" .

"$NNC" train "$EX/xor.nn" --quiet --log log.json --save xor.ckpt
want_loss=$(json_field log.json train_loss)
"$NNC" predict "$EX/xor.nn" --weights xor.ckpt --input "$EX/data/xor.csv" --raw >jit.txt

# undefined symbols must come from libc or libm
libs_defined() {
  for lib in libc.so.6 libm.so.6; do
    nm -D --defined-only "$($CC -print-file-name=$lib)" | awk '{ sub(/@.*/, "", $3); print $3 }'
  done | sort -u
}
check_undefined() {
  local extra
  extra=$(comm -23 <(nm -u "$1" | awk '{ print $2 }' | sort -u) <(libs_defined))
  [[ -z $extra ]] || fail "$1 needs symbols outside libc and libm: $extra"
}

build() {   # build OBJECT PROGRAM: link the test program against OBJECT
  check_undefined "$1"
  $CC -std=c11 -Wall -Wextra -Werror -O2 -I. compile_xor.c "$1" -lm -o "$2"
}

# embedded weights
"$NNC" compile "$EX/xor.nn" --weights xor.ckpt -o xor.o >/dev/null
grep -q '^int xor_train_step\|^float xor_train_step' xor.h || fail "xor.h declares no xor_train_step"
grep -q 'logit.w .*param .*\[4,1\]' xor.h || fail "xor.h has no tensor table"
build xor.o embedded
./embedded predict "$EX/data/xor.csv" >embedded.txt
cmp jit.txt embedded.txt || fail "embedded forward differs from nnc predict: $(paste jit.txt embedded.txt | tr '\n' ' ')"

# the same weights from an image file written beside the object
"$NNC" compile "$EX/xor.nn" --weights xor.ckpt --weights-file xor.weights -o xor.o >/dev/null
build xor.o loaded
./loaded predict "$EX/data/xor.csv" xor.weights >loaded.txt
cmp jit.txt loaded.txt || fail "forward with xor.weights differs from nnc predict"

# a baseline x86-64 object (SSE only): same results within rounding
"$NNC" compile "$EX/xor.nn" --weights xor.ckpt --cpu x86-64 -o xor.o >/dev/null
build xor.o generic
./generic predict "$EX/data/xor.csv" >generic.txt
paste -d' ' jit.txt generic.txt | awk '{ d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1
  if (d > 1e-5 * a + 1e-6) { print "row " NR ": " $1 " vs " $2; bad = 1 } } END { exit bad }' ||
  fail "the x86-64 build disagrees with nnc predict"

# training from the initializers, through xor_train_step
"$NNC" compile "$EX/xor.nn" -o xor.o >/dev/null
build xor.o trainer
got_loss=$(./trainer train "$EX/data/xor.csv" 500 1)
less "$got_loss" 0.01 || fail "xor_train_step final loss $got_loss is not below 0.01"
[[ $got_loss == "$want_loss" ]] || fail "xor_train_step final loss $got_loss, nnc train $want_loss"

# textual forms
"$NNC" compile "$EX/xor.nn" --emit-llvm --output xor.ll >/dev/null
grep -q '^define .*@xor_forward(' xor.ll || fail "xor.ll has no xor_forward"
"$NNC" compile "$EX/xor.nn" --emit-asm --output xor.s >/dev/null
grep -q 'xor_train_step:' xor.s || fail "xor.s has no xor_train_step"
# a target LLVM cannot build for is refused with its reason, leaving no file
for bad in "--cpu i686:that CPU is 32-bit: for x86-64 give --cpu x86-64" \
           "--cpu pentium2:that CPU is 32-bit: for x86-64 give --cpu x86-64" \
           "--features -sse2:SSE2 register return with SSE2 disabled; every x86-64 CPU has SSE and SSE2" \
           "--features -sse:SSE register return with SSE disabled; every x86-64 CPU has SSE and SSE2" \
           "--cpu nonsense:give a name as clang's -march takes it"; do
  status=0
  "$NNC" compile "$EX/xor.nn" ${bad%%:*} -o bad.o 2>err.txt || status=$?
  [[ $status -eq 1 ]] || fail "compile ${bad%%:*}: exit status $status"
  grep -qF "nnc compile: LLVM cannot generate code for " err.txt && grep -qF "${bad#*:}" err.txt ||
    fail "compile ${bad%%:*}: $(cat err.txt)"
  ls bad.* 2>/dev/null && fail "compile ${bad%%:*} left files behind"
done
echo "xor object: forward = nnc predict, train_step loss $got_loss = nnc train"
