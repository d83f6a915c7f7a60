#!/bin/sh
# fig2.sh -- the seed paper's Fig. 2 at this machine's scale: the cost of
# training the gauge-equivariant flow of the two-flavour Schwinger model
# (beta = 2, 8x8, exact determinant) to target ESS levels at kappa = 0.25
# and 0.263, from scratch, from the kappa = 0 model, and sequentially
# 0 -> 0.25 -> 0.263 (configs/fig2/, docs/experiments.md).
#
# Stages, in order (each a `flowgen train` of configs/fig2/<stage>.yaml):
#   k0              the kappa = 0 model (to rolling ESS 0.8)
#   scratch_k0.25   scratch_k0.263
#   from0_k0.25     from0_k0.263     (train.init_from the k0 model)
#   seq_k0.263      (train.init_from the from0_k0.25 model)
# A finished stage (out/fig2/<stage>/train.json) is kept: a killed script
# continues with the stage it was in, resumed from its last checkpoint.
# For each stage and level (0.3, 0.5, 0.7) the step, N_train and training
# seconds at which the rolling mean of the batch ESS over WINDOW steps first
# reaches it (reach.awk), and the fresh-sample ESS at the end.
#
# usage: scripts/experiments/fig2.sh
#   FLOWGEN  the executable (default: build/flowgen)
#   WINDOW   rolling window of the levels (default 50, the configs' stop window)
# Results: out/fig2/fig2.csv, out/fig2/fig2.png (gnuplot, scripts/experiments/fig2.gp)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
window=${WINDOW:-50}
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig2.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
stages="k0 scratch_k0.25 scratch_k0.263 from0_k0.25 from0_k0.263 seq_k0.263"
levels="0.3 0.5 0.7"
json() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1"; }

for s in $stages; do
  out=$root/out/fig2/$s
  [ -f "$out/train.json" ] && continue
  mkdir -p "$out"
  cfg=$root/configs/fig2/$s.yaml
  if [ -f "$out/model.h5" ] && "$bin" train "$cfg" --resume --json > "$out/train.json.part"; then
    :
  else
    echo "fig2.sh: $s: training" >&2
    rm -f "$out/model.h5" "$out/train.csv"
    "$bin" train "$cfg" --json > "$out/train.json.part"
  fi
  mv "$out/train.json.part" "$out/train.json"
done

# The table: per stage and level; the sequential protocol's cumulative cost
# adds the from0_k0.25 stage (to its stop) to seq_k0.263's.
csv=$root/out/fig2/fig2.csv
echo "stage,kappa,level,step,n_train,seconds,n_train_cumulative,seconds_cumulative,ess_fresh,ess_fresh_err" > "$csv.part"
for s in $stages; do
  d=$root/out/fig2/$s
  kappa=$(sed -n 's/.*kappa: \([0-9.]*\)}.*/\1/p' "$root/configs/fig2/$s.yaml")
  pre_n=0 pre_s=0
  if [ "$s" = seq_k0.263 ]; then
    pre_n=$(json "$root/out/fig2/from0_k0.25/train.json" n_train)
    pre_s=$(tail -n 1 "$root/out/fig2/from0_k0.25/train.csv" | awk -F, '{print $8}')
  fi
  awk -v window="$window" -v levels="$levels" -f "$root/scripts/experiments/reach.awk" "$d/train.csv" |
    while read -r level step n wall; do
      if [ "$step" = never ]; then cn=; cs=; else
        cn=$((n + pre_n)); cs=$(awk -v a="$wall" -v b="$pre_s" 'BEGIN{printf "%.1f", a + b}'); fi
      [ "$step" = never ] && { step=; n=; wall=; }
      echo "$s,$kappa,$level,$step,$n,$wall,$cn,$cs,$(json "$d/train.json" ess_model),$(json "$d/train.json" ess_err)"
    done
done >> "$csv.part"
mv "$csv.part" "$csv"
column -s, -t < "$csv" 2>/dev/null || cat "$csv"
# Rolling ESS curves for the plot; the sequential stage shifted by the
# N_train of the from0_k0.25 stage before it.
for s in $stages; do
  d=$root/out/fig2/$s
  awk -v window="$window" -f "$root/scripts/train_log.awk" "$d/train.csv" > "$d/train_plot.csv"
done
png=$root/out/fig2/fig2.png
shift_n=$(json "$root/out/fig2/from0_k0.25/train.json" n_train)
if command -v gnuplot >/dev/null; then
  gnuplot -e "dir='$root/out/fig2'; shift_n=$shift_n; png='$png'" "$root/scripts/experiments/fig2.gp"
  echo "fig2.sh: wrote $png" >&2
else
  echo "fig2.sh: gnuplot not found: no plot (Debian: apt-get install gnuplot-nox)" >&2
fi
