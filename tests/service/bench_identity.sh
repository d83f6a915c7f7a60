#!/usr/bin/env bash
# The sampling service's benchmark mode (issue 15) keeps the real chain: on 1, 2, 4 and 8 ranks (oversubscribed), with windows 1 and 4 and paced workers, the same chain bit for bit as a serial chain of the same log-weights, every row in its place in the file.
#   bench_identity.sh FLOWGEN BENCH_SERVICE   (prints a Check-style summary line)
# No wall time is asserted: the figures are printed for the reader only.
set -uo pipefail
fg=$1 bench=$2
work=$(mktemp -d -t flowgen-bench-identity.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
checks=0 failures=0
check() {  # check "what" command...
  checks=$((checks + 1))
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
cd "$work" || exit 1
# 3000 proposals in batches of 50: a short last batch, rounds of 7 batches
# (flush_every 320), so rounds end between batches and mid-window.
cat > base.yaml <<'YAML'
seed: 77
theory: {name: phi4, lattice: [6, 6], m2: -4.0, lambda: 2.0}
model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [4]}
train: {steps: 0, batch_size: 16, checkpoint: model.h5, eval_samples: 64}
sample: {model: model.h5, proposals: 2990, batch_size: 50, flush_every: 320, output: ens.h5}
YAML
"$fg" train base.yaml >train.out 2>&1 || { echo "FAIL: untrained model not written"; cat train.out; exit 1; }

# run TAG RANKS ARGS...: bench_service on RANKS ranks into TAG.h5, JSON in TAG.json
run() {
  local tag=$1 n=$2
  shift 2
  sed "s|output: ens.h5|output: $tag.h5|" base.yaml >"$tag.yaml"
  if [ "$n" = 1 ]; then
    "$bench" "$tag.yaml" --verify "$@" >"$tag.json" 2>"$tag.err"
  else
    mpirun -n "$n" "$bench" "$tag.yaml" --verify "$@" >"$tag.json" 2>"$tag.err"
  fi
  local rc=$?
  [ $rc -eq 0 ] || { echo "  exit $rc:"; tail -n 5 "$tag.err"; }
  cat "$tag.json"
  return $rc
}
hash_of() { sed -n 's/.*"chain_hash": "\([0-9a-f]*\)".*/\1/p' "$1.json"; }
verified() { grep -q '"verified_against_serial_chain_and_file": true' "$1.json"; }
same_hash() { [ -n "$(hash_of "$1")" ] && [ "$(hash_of "$1")" = "$(hash_of "$2")" ]; }
same_data() {
  local d
  for d in /configs /proposals/logw /chain/index /chain/accepted; do
    h5diff -q "$1.h5" "$2.h5" "$d" "$d" >/dev/null || { echo "  $d differs"; return 1; }
  done
}

check "one rank: the run finishes and matches the serial chain and the file" run r1 1
check "one rank verified" verified r1
for n in 2 4 8; do
  check "$n ranks: the run finishes" run "r$n" "$n"
  check "$n ranks: chain and file match the serial chain" verified "r$n"
  check "$n ranks: the same chain hash as one rank" same_hash "r$n" r1
  check "$n ranks: the same file data as one rank (h5diff)" same_data "r$n" r1
done
check "window 1, 4 ranks: the run finishes" run w1 4 --window 1
check "window 1: the same chain" same_hash w1 r1
check "window 4, 3 ranks, paced at 20000 proposals/s per worker: the run finishes" \
  run w4 3 --window 4 --rate 20000
check "window 4, paced: the same chain" same_hash w4 r1
check "window 4, paced: verified" verified w4
check "sigma 3 gives another chain (the hash sees the weights)" run s3 2 --sigma 3
check "sigma 3: a different hash" test "$(hash_of s3)" != "$(hash_of r1)"
echo "100%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
