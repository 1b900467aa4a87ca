# Every whole model the docs show (a fenced block that starts with `model NAME`
# and has a loss) passes nnc summary without an error or a warning, so a reader
# who copies one gets a model that compiles.
source "$(dirname "$0")/lib.sh"
n=0
for doc in "$ROOT"/README.md "$ROOT"/docs/*.md; do
  awk -v out="$WORK/$(basename "$doc" .md)" '
    /^```/ { if (inside && keep && text ~ /\nloss /) { n++; printf "%s", text > (out "_" n ".nn"); close(out "_" n ".nn") }
             inside = !inside; text = ""; keep = 0; first = 1; next }
    inside && first && !/^#/ && NF { keep = $1 == "model" && $2 ~ /^[A-Za-z_][A-Za-z0-9_]*$/ && NF == 2; first = 0 }
    inside { text = text $0 "\n" }' "$doc"
done
for nn in *.nn; do
  [[ -e $nn ]] || fail "no model found in the docs"
  "$NNC" summary "$nn" >out.txt 2>err.txt || fail "$nn: $(cat err.txt)"
  [[ -s err.txt ]] && fail "$nn: $(cat err.txt)"
  n=$((n + 1))
done
echo "$n models from the docs pass nnc summary: $(ls ./*.nn | xargs -n1 basename | tr '\n' ' ')"
