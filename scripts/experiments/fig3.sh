#!/bin/sh
# fig3.sh -- the seed paper's Fig. 3 at this machine's scale (issue 14):
# the cost of retraining a flow trained at lambda = 4 (configs/fig3/base.yaml)
# to another lambda (configs/fig3/retrain.yaml, Adam state carried over) until
# the rolling mean of the batch ESS reaches a level, against 1/lambda, for
# several levels, seeds, and two windows of the stop rule.
#
# Each retraining runs once, with the stop rule at the highest level and the
# longest window; the stop rule only ends a run, it does not change its
# steps, so the first step where the rolling mean over W steps reaches level
# L in that log is exactly where a run with `stop: {target_ess: L, window: W}`
# would have stopped (scripts/experiments/reach.awk reads it off). A level
# that the rule's window reaches only after the run stopped shows as empty.
#
# Finished stages are kept: the base model and every run whose result
# (run.json) exists are not trained again; a run killed half way resumes
# from its checkpoint. Remove out/fig3 to start over.
#
# usage: scripts/experiments/fig3.sh
#   FLOWGEN      the executable (default: build/flowgen); one rank, one thread
#   SEEDS        retraining seeds (default: 31 32 33)
#   INV_LAMBDAS  the targets as 1/lambda (default: 0.25 0.5 0.75 1.0 1.25 1.5)
#   LEVELS       ESS levels (default: 0.2 0.35 0.5)
#   WINDOWS      windows of the stop rule (default: 20 100)
# Results in out/fig3/: base/, x<1/lambda>/s<seed>/{train.csv,model.h5,run.json},
#   costs.csv (one row per run, window and level), summary.csv (mean, sd,
#   min, max over the seeds) and fig3.png (scripts/experiments/fig3.gp).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/experiments
bin=${FLOWGEN:-$root/build/flowgen}
seeds=${SEEDS:-31 32 33}
inv_lambdas=${INV_LAMBDAS:-0.25 0.5 0.75 1.0 1.25 1.5}
levels=${LEVELS:-0.2 0.35 0.5}
windows=${WINDOWS:-20 100}
out=$root/out/fig3
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig3.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
. "$here/lib.sh"

train_base fig3.sh "$root/configs/fig3/base.yaml" "$out/base"

top_level=$(echo "$levels" | tr ' ' '\n' | sort -g | tail -1)
top_window=$(echo "$windows" | tr ' ' '\n' | sort -n | tail -1)
for seed in $seeds; do
  for x in $inv_lambdas; do
    d=$out/x$x/s$seed
    mkdir -p "$d"
    config_set "$root/configs/fig3/retrain.yaml" "$d/run.yaml" seed "$seed" \
      lambda "$(inverse "$x")" \
      init_from "$out/base/model.h5" checkpoint "$d/model.h5" log "$d/train.csv" \
      target_ess "$top_level" window "$top_window"
    [ -f "$d/run.json" ] || echo "fig3.sh: $(date +%T) seed $seed, 1/lambda $x" >&2
    train_leg "$d" run "$d/run.yaml"
  done
done

{
  echo "inv_lambda,seed,window,level,step,n_train,seconds"
  for seed in $seeds; do
    for x in $inv_lambdas; do
      for w in $windows; do
        awk -v window="$w" -v levels="$levels" -f "$here/reach.awk" "$out/x$x/s$seed/train.csv" |
          awk -v pre="$x,$seed,$w" '{ print pre "," $1 "," ($2 == "never" ? ",," : $2 "," $3 "," $4) }'
      done
    done
  done
} > "$out/costs.csv"
summarise "$out/costs.csv" "inv_lambda window level" "n_train seconds"

png=$out/fig3.png
plot "$png" "$here/fig3.gp" \
  "dir='$out'; levels='$levels'; windows='$windows'; png='$png'"
