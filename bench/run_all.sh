#!/usr/bin/env bash
# Measures every figure of docs/performance.md on this machine, one after
# the other (run it on an otherwise idle machine). Prints labelled results.
# Usage: bench/run_all.sh [build folder, default build]
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:-build}
export OPENBLAS_NUM_THREADS=1
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== flowgen bench, paper architecture, batch 1024"
"$b/flowgen" bench configs/phi4_paper.yaml --json --seconds 3
echo "== flowgen bench, tutorial architecture, batch 64"
"$b/flowgen" bench configs/phi4_tutorial.yaml --json --batch 64 --seconds 3
echo "== portable kernels (FLOWGEN_ISA=portable), paper architecture"
FLOWGEN_ISA=portable "$b/flowgen" bench configs/phi4_paper.yaml --json --seconds 3

echo "== training configs/phi4_tutorial.yaml end to end (one core)"
sed "s|\.\./out/tutorial|$work|" configs/phi4_tutorial.yaml > "$work/tutorial.yaml"
/usr/bin/time -f "wall %e s" "$b/flowgen" train "$work/tutorial.yaml" --json 2>&1 | grep -v "^train step"

echo "== sampling service: bare flow sampling vs flowgen sample (200000 proposals, batch 256)"
sed -e "s|proposals: 50000|proposals: 200000|" -e "s|flush_every: 16384|flush_every: 65536|" \
  "$work/tutorial.yaml" > "$work/sample.yaml"
"$b/flowgen" bench "$work/sample.yaml" --json --batch 256 --seconds 3
for n in 1 2 3; do
  rm -f "$work/ensemble.h5" "$work/ensemble.h5.tmp"
  if [ "$n" = 1 ]; then
    "$b/flowgen" sample "$work/sample.yaml" --json 2>/dev/null
  else
    mpirun --oversubscribe -n "$n" "$b/flowgen" sample "$work/sample.yaml" --json 2>/dev/null
  fi
done

echo "== coordinator: chain throughput"
"$b/bench/bench_chain"
echo "== convolution kernels"
"$b/bench/bench_conv" 0.3 4
echo "== HMC force rate"
"$b/bench/bench_hmc"
