#!/bin/sh
# run.sh -- the flow-versus-HMC scan of the seed paper's Fig. 6 at the scale
# of docs/fig6.md: L = 16, m2 = -4, lambda = 2.0, 1.6, 1.4, 1.3 (towards the
# critical region near lambda = 1.1). For each lambda, in this order and on
# one core each: train the flow (from scratch at 2.0, then from the previous
# lambda's checkpoint via train.init_from), sample it, run HMC, and measure
# both with the same analysis (flowgen compare, and flowgen analyze
# --validate for ESS_target on the HMC configurations).
#
# usage: configs/fig6/run.sh
#   FLOWGEN  the executable (default: build/flowgen)
#   FRESH=1  start over (removes out/fig6); otherwise finished stages are
#            kept and an interrupted stage is redone from its start
# Results: out/fig6/fig6.csv, out/fig6/fig6.png (when gnuplot is installed),
#          out/fig6/lambda_<l>/{model.h5,train.csv,flow.h5,hmc.h5,*.json}
# Takes about 10 minutes on a 2-core machine (docs/fig6.md); about 0.7 GB
# of ensembles.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
out=$root/out/fig6
lambdas="2.0 1.6 1.4 1.3"
export OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
[ -x "$bin" ] || { echo "run.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run.sh: python3 is needed to tabulate the JSON" >&2; exit 2; }
[ "${FRESH:-0}" = 1 ] && rm -rf "$out"
mkdir -p "$out"

. "$here/stage.sh"

for lam in $lambdas; do
  cfg=$here/lambda_$lam.yaml
  d=$out/lambda_$lam
  mkdir -p "$d"
  [ -f "$d/train.json" ] || rm -f "$d/model.h5" "$d/train.csv"
  stage train "$d" "$bin" train "$cfg"
  [ -f "$d/sample.json" ] || rm -f "$d/flow.h5" "$d/flow.h5.tmp"
  stage sample "$d" "$bin" sample "$cfg"
  [ -f "$d/hmc.json" ] || rm -f "$d/hmc.h5" "$d/hmc.h5.tmp"
  stage hmc "$d" "$bin" hmc "$cfg"
  stage compare "$d" "$bin" compare "$d/flow.h5" "$d/hmc.h5"
  stage validate "$d" "$bin" analyze "$d/flow.h5" --validate "$d/hmc.h5"
  stage analyze_hmc "$d" "$bin" analyze "$d/hmc.h5"
done

python3 - "$out" $lambdas > "$out/fig6.csv" <<'EOF'
import json, sys
out, lambdas = sys.argv[1], sys.argv[2:]
cols = ["lambda", "xi2_hmc", "xi2_hmc_err", "flow_acceptance", "flow_ess_model",
        "flow_ess_model_err", "flow_ess_target", "flow_ess_target_err", "flow_tau_int_max",
        "flow_ess_per_step", "flow_s_per_config", "flow_setup_s", "flow_setup_cumulative_s",
        "flow_effective_per_s", "hmc_acceptance", "hmc_tau_int_max", "hmc_ess_per_step",
        "hmc_s_per_config", "hmc_setup_s", "hmc_effective_per_s", "ratio_effective_per_s",
        "mode_collapse"]
print(",".join(cols))
cumulative = 0.0
for lam in lambdas:
    d = f"{out}/lambda_{lam}"
    c = json.load(open(f"{d}/compare.json"))
    v = json.load(open(f"{d}/validate.json"))["validation"]
    h = json.load(open(f"{d}/analyze_hmc.json"))["observables"]["xi2"]
    f, m = c["flow"], c["hmc"]
    cumulative += f["setup_s"]
    row = [lam, h["mean"], h["err"], f["acceptance"], v["ess_model"], v["ess_model_err"],
           v["ess_target"], v["ess_target_err"], 0.5 / f["ess_per_step"], f["ess_per_step"],
           f["samp_s_per_config"], f["setup_s"], cumulative, f["effective_per_s"],
           m["acceptance"], 0.5 / m["ess_per_step"], m["ess_per_step"], m["samp_s_per_config"],
           m["setup_s"], m["effective_per_s"], c["ratio"]["effective_per_s"],
           int(v["mode_collapse"])]
    print(",".join("" if x is None else (f"{x:.6g}" if isinstance(x, float) else str(x))
                   for x in row))
EOF
echo "run.sh: wrote $out/fig6.csv" >&2
column -s, -t < "$out/fig6.csv" 2>/dev/null || cat "$out/fig6.csv"

if command -v gnuplot >/dev/null; then
  gnuplot -e "csv='$out/fig6.csv'; png='$out/fig6.png'" "$here/fig6.gp"
  echo "run.sh: wrote $out/fig6.png" >&2
else
  echo "run.sh: gnuplot not found: no plot. Install it (Debian: apt-get install gnuplot-nox)" \
       "and run: gnuplot -e \"csv='$out/fig6.csv'; png='$out/fig6.png'\" $here/fig6.gp" >&2
fi
