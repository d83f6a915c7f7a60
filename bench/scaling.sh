#!/usr/bin/env bash
# The scaling figures of docs/scaling.md (issue 15), on this machine: the
# sampling service's coordinator under 16, 64 and 256 oversubscribed
# ranks (bench_service: real coordinator and file path, synthetic
# workers), its window, the write path (bench_service on a 16x16 lattice,
# bench_h5write: collective against independent), the gradient allreduce
# against ranks for the shipped architectures (bench_allreduce), the disk,
# and the per-core sampling rates of the models the saturation estimates
# use (flowgen bench). Prints labelled JSON lines; nothing is asserted.
# Usage: bench/scaling.sh [build folder, default build] [max ranks, default 256]
set -euo pipefail
cd "$(dirname "$0")/.."
b=$(cd "${1:-build}" && pwd)
max=${2:-256}
export OPENBLAS_NUM_THREADS=1 OMPI_MCA_rmaps_base_oversubscribe=1
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
src=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# cfg NAME L PROPOSALS BATCH FLUSH_EVERY: a config on an untrained tiny flow
cfg() {
  cat >"$1.yaml" <<YAML
seed: 5
theory: {name: phi4, lattice: [$2, $2], m2: -4.0, lambda: 2.0}
model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [4]}
train: {steps: 0, batch_size: 16, checkpoint: model.h5, eval_samples: 64}
sample: {model: model.h5, proposals: $3, batch_size: $4, flush_every: $5, output: $1.h5}
YAML
}
cfg init 4 64 64 64
"$b/flowgen" train init.yaml >/dev/null
# service N NAME ARGS...: one bench_service run on N ranks
service() {
  local n=$1 name=$2
  shift 2
  rm -f "$name.h5" "$name.h5.tmp"
  mpirun -n "$n" "$b/bench/bench_service" "$name.yaml" "$@" | tr -d '\n'
  echo
  rm -f "$name.h5"
}

echo "== 1. coordinator: 4x4 rows (the file is not the limit), batch 64, workers flat out"
cfg coord 4 400000 64 131072
for n in 1 16 64 $max; do
  [ "$n" -le "$max" ] && service "$n" coord --verify
done
echo "== 1b. coordinator, paced workers (2000 proposals/s each), 64 ranks"
service 64 coord --rate 2000 --verify
echo "== 1c. the window: 64 ranks, windows 1, 2, 4"
for w in 1 2 4; do
  service 64 coord --window "$w"
done

echo "== 2. file: 16x16 rows (2 KiB), 131072 proposals, batch 64, rounds of 32768"
cfg file16 16 131072 64 32768
for n in 1 16 64; do
  service "$n" file16
done
echo "== 2b. bare parallel HDF5, the same pattern: collective against independent"
for n in 2 16 64; do
  mpirun -n "$n" "$b/bench/bench_h5write" "$work" 131072 256 64 32768
done
echo "== 2c. the disk: 256 MiB written and fdatasync'd"
dd if=/dev/zero of="$work/dd.bin" bs=1M count=256 conv=fdatasync 2>&1 | tail -n 1
rm -f "$work/dd.bin"

echo "== 3. gradient allreduce (params: schwinger train_b2_k0 72144, tutorial 12960, paper 108624)"
for n in 2 4 8 16; do
  mpirun -n "$n" "$b/bench/bench_allreduce" --seconds 0.5 12960 72144 108624
done

echo "== 4. per-core sampling rates at the service's batch (flowgen bench, batch 256)"
for c in phi4_tutorial phi4_paper; do
  for L in 8 16 32; do
    sed "s/lattice: \[[0-9]*, [0-9]*\]/lattice: [$L, $L]/" "$src/configs/$c.yaml" >"rate_$c.yaml"
    printf '%s L=%s ' "$c" "$L"
    "$b/flowgen" bench "rate_$c.yaml" --json --batch 256 --seconds 1 2>/dev/null
  done
done
