#!/bin/sh
# fresh_ess.sh -- the ESS on fresh samples (eq. A7, train.eval_samples of
# them) along a training run, every EVERY steps from FROM to TO, for the
# config's protocol with its stop rule switched off. The batch ESS of the
# training log is cheap but biased upwards for small batches; this measures
# the unbiased figure at the cost of one evaluation per point. The run is
# trained in legs (train to FROM, then --resume with train.steps raised by
# EVERY each time), which together are bit for bit one run.
#
# usage: scripts/experiments/fresh_ess.sh CONFIG FROM TO EVERY
#   FLOWGEN, RANKS as for fig1.sh.
# Prints: step N_train ESS ESS_error. Files: out/fresh/<config name>/
set -eu
[ $# -eq 4 ] || { echo "usage: $0 CONFIG FROM TO EVERY" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
ranks=${RANKS:-1}
export OPENBLAS_NUM_THREADS=1
cfg=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
from=$2 to=$3 every=$4
out=$root/out/fresh/$(basename "$cfg" .yaml)
mkdir -p "$out"

train() {
  if [ "$ranks" -gt 1 ]; then
    mpirun --oversubscribe -n "$ranks" "$bin" train "$@"
  else
    "$bin" train "$@"
  fi
}

json() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1"; }

# The config with its own paths made absolute, its checkpoint and log moved
# to $out, no stop rule, and train.steps = $1.
leg_config() {
  dir=$(dirname "$cfg")
  sed -e "s|^\(  checkpoint: \).*|\1$out/model.h5|" -e "s|^\(  log: \).*|\1$out/train.csv|" \
    -e "s|^\(  init_from: \)\([^/n][^ ]*\)|\1$dir/\2|" \
    -e 's/target_ess: [0-9.eE+-]*/target_ess: 0.0/' -e "s/^\(  steps: \).*/\1$1/" \
    "$cfg" > "$out/leg.yaml"
}

step=$from
resume=
printf '%6s %10s %8s %8s\n' step N_train ESS error
while [ "$step" -le "$to" ]; do
  leg_config "$step"
  train "$out/leg.yaml" $resume --json > "$out/leg.json" 2> "$out/leg.err"
  printf '%6s %10s %8.4f %8.4f\n' "$(json "$out/leg.json" step)" \
    "$(json "$out/leg.json" n_train)" "$(json "$out/leg.json" ess_model)" \
    "$(json "$out/leg.json" ess_err)"
  resume=--resume
  step=$((step + every))
done
