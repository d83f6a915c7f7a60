#!/usr/bin/env bash
# scripts/plot_train.sh draws a real training log: a tiny `flowgen train`
# run (growing batch, then a decaying rate on resume) gives train.csv; the
# plot must be a PNG of the expected size with non-trivial content, and bad
# input must exit 2 without writing one. Prints a Check-style summary line.
#   plot_train.sh FLOWGEN
set -uo pipefail
fg=$1
plot=$(cd "$(dirname "$0")/../../scripts" && pwd)/plot_train.sh
work=$(mktemp -d -t flowgen-plot-train.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1
checks=0 failures=0
check() {
  checks=$((checks + 1))
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
if ! command -v gnuplot > /dev/null; then
  echo "FAIL: gnuplot is not installed; scripts/plot_train.sh needs it." \
       "Install it with: bash scripts/setup.sh (Debian package gnuplot-nox)"
  echo "100%: Checks: 1, Failures: 1, Errors: 0"
  exit 1
fi

cat > "$work/tiny.yaml" <<'YAML'
seed: 5
theory: {name: phi4, lattice: [4, 4], m2: -1.0, lambda: 1.0}
model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [4]}
train:
  steps: 40
  batch_size: 16
  optimizer: {name: adam, lr: 1.0e-3}
  schedule: {kind: batch_size, every: 10, factor: 2, max_batch_size: 64}
  checkpoint: model.h5
  log: train.csv
  eval_samples: 256
YAML
"$fg" train "$work/tiny.yaml" > "$work/train.out" 2>&1
check "a tiny training run writes train.csv" test $? -eq 0 -a -s "$work/train.csv"
rows=$(($(wc -l < "$work/train.csv") - 1))
check "the log has one row per step (40)" test "$rows" -eq 40

# png_ok FILE: PNG signature, a 1200 x 1050 image (IHDR), over 20 kB (six
# drawn panels; an empty canvas of that size is a few kB).
png_ok() {
  [ -f "$1" ] || { echo "  no file $1"; return 1; }
  local magic width height size
  magic=$(od -An -tx1 -N8 "$1" | tr -d ' \n')
  width=$(od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  height=$(od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  size=$(wc -c < "$1")
  echo "  $1: magic $magic, ${width}x$height, $size bytes"
  [ "$magic" = 89504e470d0a1a0a ] && [ "$width" -eq 1200 ] && [ "$height" -eq 1050 ] &&
    [ "$size" -gt 20000 ]
}

"$plot" "$work/train.csv" "$work/out.png" > "$work/plot.out" 2>&1
check "plot_train.sh TRAIN.csv OUT.png exits 0" test $? -eq 0
check "OUT.png is a 1200 x 1050 PNG of over 20 kB" png_ok "$work/out.png"
"$plot" "$work/train.csv" > /dev/null 2>&1
check "without OUT.png it writes train.png beside train.csv" png_ok "$work/train.png"

# bad NAME EXPECTED-MESSAGE ARGS...: exit status 2, the message, no PNG.
bad() {
  local name=$1 message=$2
  shift 2
  rm -f "$work"/*.png
  "$plot" "$@" > "$work/bad.out" 2>&1
  local rc=$?
  check "$name: exit 2 (got $rc)" test "$rc" -eq 2
  check "$name: says '$message'" grep -q -- "$message" "$work/bad.out"
  check "$name: writes no PNG" bash -c "! ls '$work'/*.png > /dev/null 2>&1"
}
bad "a missing file" "no such file" "$work/missing.csv" "$work/x.png"
bad "a config, not a log" "is not a flowgen training log" "$work/tiny.yaml" "$work/x.png"
bad "a checkpoint, not a log" "is not a flowgen training log" "$work/model.h5" "$work/x.png"
head -1 "$work/train.csv" > "$work/header_only.csv"
bad "a log with no rows" "no rows after the header" "$work/header_only.csv" "$work/x.png"
cut -d, -f1-5,7- "$work/train.csv" > "$work/no_ess.csv"
bad "a log without the ess column" "no column 'ess'" "$work/no_ess.csv" "$work/x.png"
bad "no arguments" "usage: plot_train.sh"
bad "an output directory that does not exist" "no such directory" \
  "$work/train.csv" "$work/nowhere/x.png"

echo "100%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
