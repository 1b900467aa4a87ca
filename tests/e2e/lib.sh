# Shared helpers for the end-to-end tests (sourced).  $NNC is the nnc binary
# under test; each test runs in its own temporary directory.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NNC=${NNC:-$ROOT/nnc}
[[ $NNC = /* ]] || NNC=$ROOT/$NNC
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# json_field FILE FIELD: FIELD of the last JSON line of FILE
json_field() {
  tail -n 1 "$1" | sed -n "s/.*\"$2\": \([-0-9.e+naif]*\).*/\1/p"
}

# less A B: A < B as numbers
less() {
  awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}
