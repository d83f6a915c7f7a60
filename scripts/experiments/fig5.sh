#!/bin/sh
# fig5.sh -- the seed paper's Fig. 5 at this machine's scale (issue 14): a
# flow trained at lambda = 1 (configs/fig5/base.yaml) retrained to another
# lambda (configs/fig5/retrain.yaml, Adam state carried over) for fixed step
# budgets; the ESS on fresh samples (eq. A7) against 1/lambda per budget,
# over several seeds.
#
# Each retraining is one run trained in legs, one per budget (the first
# with train.steps at the smallest budget, then --resume with more steps),
# which together are bit for bit one run; each leg's final evaluation is the
# ESS after that budget. Budget 0 is the starting model evaluated at the
# target lambda.
#
# Finished stages are kept: the base model and every leg whose result
# (b<steps>.json) exists are not trained again; a leg killed half way
# resumes from its checkpoint. Remove out/fig5 to start over.
#
# usage: scripts/experiments/fig5.sh
#   FLOWGEN      the executable (default: build/flowgen); one rank, one thread
#   SEEDS        retraining seeds (default: 51 52 53)
#   INV_LAMBDAS  the targets as 1/lambda (default: 0.25 0.5 0.75 1.0 1.25 1.5)
#   BUDGETS      step budgets, increasing (default: 0 50 200 600)
# Results in out/fig5/: base/, x<1/lambda>/s<seed>/{train.csv,model.h5,b<steps>.json},
#   ess.csv (one row per run and budget), summary.csv (mean, sd, min, max
#   over the seeds) and fig5.png (scripts/experiments/fig5.gp).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/experiments
bin=${FLOWGEN:-$root/build/flowgen}
seeds=${SEEDS:-51 52 53}
inv_lambdas=${INV_LAMBDAS:-0.25 0.5 0.75 1.0 1.25 1.5}
budgets=${BUDGETS:-0 50 200 600}
out=$root/out/fig5
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig5.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
. "$here/lib.sh"

train_base fig5.sh "$root/configs/fig5/base.yaml" "$out/base"

for seed in $seeds; do
  for x in $inv_lambdas; do
    d=$out/x$x/s$seed
    mkdir -p "$d"
    for b in $budgets; do
      config_set "$root/configs/fig5/retrain.yaml" "$d/b$b.yaml" seed "$seed" \
        lambda "$(inverse "$x")" steps "$b" \
        init_from "$out/base/model.h5" checkpoint "$d/model.h5" log "$d/train.csv"
      [ -f "$d/b$b.json" ] || echo "fig5.sh: $(date +%T) seed $seed, 1/lambda $x, $b steps" >&2
      train_leg "$d" "b$b" "$d/b$b.yaml"
    done
  done
done

{
  echo "inv_lambda,seed,steps,n_train,seconds,ess,ess_err"
  for seed in $seeds; do
    for x in $inv_lambdas; do
      for b in $budgets; do
        f=$out/x$x/s$seed/b$b.json
        echo "$x,$seed,$b,$(json "$f" n_train),$(json "$f" setup_s),$(json "$f" ess_model),$(json "$f" ess_err)"
      done
    done
  done
} > "$out/ess.csv"
summarise "$out/ess.csv" "inv_lambda steps" "ess n_train seconds"

png=$out/fig5.png
plot "$png" "$here/fig5.gp" "dir='$out'; budgets='$budgets'; png='$png'"
