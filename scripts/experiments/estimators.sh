#!/bin/sh
# estimators.sh -- the reverse-KL gradient estimators on the phi^4 tutorial
# point (configs/phi4_tutorial.yaml: 8x8, m2 = -4, lambda = 2, 16 coupling
# layers, batch 64, Adam 1e-3, 2500 steps): `train.gradient:
# reparameterization` against `path` (sticking-the-landing), three seeds
# each at the same N_train, and the reparameterised gradient once more with
# 2.5 times the steps (about the path runs' seconds). Prints per run: the
# estimator, seed, steps, N_train, training seconds, ms per trained sample
# and the ESS on 8192 fresh samples. A finished run (out/estimators/<run>/
# out.json) is kept.
#
# usage: scripts/experiments/estimators.sh     (about 3 minutes on one core)
#   FLOWGEN  the executable (default: build/flowgen)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "estimators.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
top=$root/out/estimators
mkdir -p "$top"
json() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1"; }

# run NAME GRADIENT SEED STEPS
run() {
  d=$top/$1
  if [ ! -f "$d/out.json" ]; then
    rm -rf "$d" && mkdir -p "$d"
    sed -e "s/^seed: .*/seed: $3/" -e "s/^  steps: .*/  steps: $4/" \
      -e "s|^  checkpoint: .*|  checkpoint: $d/model.h5|" -e "s|^  log: .*|  log: $d/train.csv|" \
      -e "s/^  grad_clip_norm: .*/&\n  gradient: $2/" -e '/^sample:/,$d' \
      "$root/configs/phi4_tutorial.yaml" > "$d/run.yaml"
    echo "estimators.sh: $1" >&2
    "$bin" train "$d/run.yaml" --json > "$d/out.json.part"
    mv "$d/out.json.part" "$d/out.json"
  fi
  printf '%-20s %-5s %6s %8s %8.1f %8.3f %8.4f +- %.4f\n' "$2" "$3" "$4" "$(json "$d/out.json" n_train)" \
    "$(json "$d/out.json" setup_s)" "$(awk -v s="$(json "$d/out.json" train_s_per_sample)" 'BEGIN{print 1e3 * s}')" \
    "$(json "$d/out.json" ess_model)" "$(json "$d/out.json" ess_err)"
}

printf '%-20s %-5s %6s %8s %8s %8s %s\n' estimator seed steps N_train seconds ms/sample "fresh ESS"
for seed in 1234 1235 1236; do
  run "reparameterization_$seed" reparameterization "$seed" 2500
  run "path_$seed" path "$seed" 2500
done
run reparameterization_1234_long reparameterization 1234 6250
