#!/bin/sh
# flow_validate.sh -- the flows of the Schwinger model against HMC
# (docs/schwinger.md, "Flows against HMC"): for beta = 2 at kappa = 0, 0.25
# and 0.263 (the 8x8 models of scripts/experiments/fig2.sh: k0, from0_k0.25,
# seq_k0.263) and pure gauge at beta = 4 (flow_b4_k0.yaml, transferred from
# the beta = 2 model), a 20000-proposal flow ensemble (independence
# Metropolis) against the HMC ensemble of the same point (the configs of
# validate.sh, whose results it shares):
#   flowgen analyze FLOW --validate HMC --json   (observables; ESS_model
#                                                 against ESS_target, eq. A8)
#   flowgen compare FLOW HMC --json              (tau_int, effective samples/s)
# then flow_validate.py prints the table (pulls on plaq, <Q^2>, C(t), a M_pi;
# exact pure-gauge values; tau_int of Q for both chains).
#
# usage: configs/schwinger/flow_validate.sh      (after scripts/experiments/fig2.sh)
#   FLOWGEN  the executable (default: build/flowgen)
#   FRESH=1  redo the flow stages (HMC ensembles are kept)
# Results: configs/schwinger/out/flow_*.h5, *.json, flow_validation.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
out=$here/out
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "flow_validate.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
[ "${FRESH:-0}" = 1 ] && rm -f "$out"/flow_*
mkdir -p "$out"
who=flow_validate.sh
. "$here/hmc_stage.sh"

# name of the point, beta, kappa, flow model, HMC config
points="b2_k0 2.0 0.0 $root/out/fig2/k0/model.h5 hmc_b2_k0
b2_k0.25 2.0 0.25 $root/out/fig2/from0_k0.25/model.h5 hmc_b2_k0.25_pf
b2_k0.263 2.0 0.263 $root/out/fig2/seq_k0.263/model.h5 hmc_b2_k0.263_pf
b4_k0 4.0 0.0 $out/flow_b4_k0/model.h5 hmc_b4_k0"

# The beta = 4 model: transferred from the beta = 2 one.
if [ ! -f "$out/flow_b4_k0.train.json" ]; then
  [ -f "$root/out/fig2/k0/model.h5" ] ||
    { echo "flow_validate.sh: no $root/out/fig2/k0/model.h5 (run scripts/experiments/fig2.sh first)" >&2; exit 2; }
  echo "flow_validate.sh: training the beta = 4 flow" >&2
  rm -rf "$out/flow_b4_k0"
  "$bin" train "$here/flow_b4_k0.yaml" --json > "$out/flow_b4_k0.train.json.part"
  mv "$out/flow_b4_k0.train.json.part" "$out/flow_b4_k0.train.json"
fi

echo "$points" | while read -r name beta kappa model hmc; do
  # A finished training only: fig2.sh writes train.json at a stage's end.
  [ -f "$(dirname "$model")/train.json" ] || [ -f "$out/flow_$name.compare.json" ] || [ "$name" = b4_k0 ] ||
    { echo "flow_validate.sh: no finished model $model (run scripts/experiments/fig2.sh first)" >&2; exit 2; }
  hmc_stage "$hmc"
  h5=$out/$hmc.h5
  f=$out/flow_$name
  [ -f "$f.compare.json" ] && continue
  echo "flow_validate.sh: $name: flow ensemble" >&2
  sed -e "s|BETA|$beta|" -e "s|KAPPA|$kappa|" -e "s|MODEL|$model|" -e "s|OUTPUT|$f.h5|" \
    "$here/flow_sample.yaml.in" > "$f.yaml"
  rm -f "$f.h5"
  "$bin" sample "$f.yaml" --json > "$f.sample.json"
  "$bin" analyze "$f.h5" --validate "$h5" --json > "$f.analyze.json.part"
  mv "$f.analyze.json.part" "$f.analyze.json"
  "$bin" compare "$f.h5" "$h5" --json > "$f.compare.json.part"
  mv "$f.compare.json.part" "$f.compare.json"
done
/usr/bin/python3 "$here/flow_validate.py" "$out" | tee "$out/flow_validation.md"
