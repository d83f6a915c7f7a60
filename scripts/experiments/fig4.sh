#!/bin/sh
# fig4.sh -- the seed paper's Fig. 4 at this machine's scale (issue 14):
# training curves (batch ESS and loss against N_train) for the optimizers
# Adam, Adadelta and SGD at m2 = -2, lambda = 1 (configs/fig4/optimizer.yaml),
# and for Kaiming initialisations of several widths (the uniform bound
# scale / sqrt(fan_in)) and Xavier initialisations of several gains at
# m2 = -4, lambda = 1.5 (configs/fig4/init.yaml), each for several seeds, a
# fixed number of steps, and the ESS on fresh samples (eq. A7) at the end.
#
# Finished stages are kept: a run whose result (run.json) exists is not
# trained again, and a run killed half way resumes from its checkpoint. A
# run that flowgen ends with an error (e.g. a NaN loss, exit 1) is recorded
# as failed (run.failed, its message in run.err) and not tried again; the
# script goes on. Remove out/fig4 to start over.
#
# usage: scripts/experiments/fig4.sh
#   FLOWGEN     the executable (default: build/flowgen); one rank, one thread
#   SEEDS       seeds (default: 41 42 43)
#   OPTIMIZERS  name:lr pairs (default: adam:2.0e-3 adadelta:1.0 sgd:1.0e-2)
#   INITS       scheme:scale pairs (default: kaiming:0.1 kaiming:1.0 kaiming:3.0
#               kaiming:10.0 xavier:0.1 xavier:1.0 xavier:3.0 xavier:10.0)
#   WINDOW      rolling window of the batch ESS in the table and plot (default 20)
# Results in out/fig4/: <optimizer|init>/<name>/s<seed>/{train.csv,model.h5,run.json},
#   final.csv (one row per run: the last rolling ESS and loss, the fresh-sample
#   ESS), summary.csv (mean, sd, min, max over the seeds) and fig4.png
#   (scripts/experiments/fig4.gp).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/experiments
bin=${FLOWGEN:-$root/build/flowgen}
seeds=${SEEDS:-41 42 43}
optimizers=${OPTIMIZERS:-adam:2.0e-3 adadelta:1.0 sgd:1.0e-2}
inits=${INITS:-kaiming:0.1 kaiming:1.0 kaiming:3.0 kaiming:10.0 xavier:0.1 xavier:1.0 xavier:3.0 xavier:10.0}
window=${WINDOW:-20}
out=$root/out/fig4
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig4.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
. "$here/lib.sh"

# run GROUP NAME SEED: the training run of out/fig4/GROUP/NAME/sSEED/run.yaml.
run() {
  d=$out/$1/$2/s$3
  [ -f "$d/run.json" ] || [ -f "$d/run.failed" ] && return 0
  echo "fig4.sh: $(date +%T) $1 $2 seed $3" >&2
  train_leg "$d" run "$d/run.yaml" || { echo "fig4.sh: $1 $2 seed $3 failed: $(tail -1 "$d/run.err")" >&2; touch "$d/run.failed"; }
}

for seed in $seeds; do
  for o in $optimizers; do
    d=$out/optimizer/${o%%:*}/s$seed
    mkdir -p "$d"
    config_set "$root/configs/fig4/optimizer.yaml" "$d/run.yaml" seed "$seed" \
      checkpoint "$d/model.h5" log "$d/train.csv"
    sed -i "s/^  optimizer: .*/  optimizer: {name: ${o%%:*}, lr: ${o#*:}}/" "$d/run.yaml"
    run optimizer "${o%%:*}" "$seed"
  done
  for i in $inits; do
    d=$out/init/${i%%:*}_${i#*:}/s$seed
    mkdir -p "$d"
    config_set "$root/configs/fig4/init.yaml" "$d/run.yaml" seed "$seed" \
      scheme "${i%%:*}" scale "${i#*:}" checkpoint "$d/model.h5" log "$d/train.csv"
    run init "${i%%:*}_${i#*:}" "$seed"
  done
done

# final.csv: the rolling means of the batch ESS and of the loss over the
# last WINDOW steps, and the fresh-sample ESS; empty for a failed run.
{
  echo "group,name,seed,steps,n_train,seconds,ess_rolling,loss_rolling,fresh_ess,fresh_err,warning"
  for seed in $seeds; do
    for gn in $(for o in $optimizers; do echo "optimizer/${o%%:*}"; done) \
              $(for i in $inits; do echo "init/${i%%:*}_${i#*:}"; done); do
      d=$out/$gn/s$seed
      warn=0
      grep -qi collaps "$d/run.err" 2>/dev/null && warn=collapse
      [ -f "$d/run.failed" ] && warn=failed
      # the plot's columns, and the rolling mean of the loss
      awk -v window="$window" -f "$root/scripts/train_log.awk" "$d/train.csv" 2>/dev/null |
        awk -F, -v w="$window" 'NR == 1 { print $0 ",loss_rolling"; next }
          { l[NR] = $6; s += $6; if (NR - 1 > w) s -= l[NR - w]
            print $0 "," (NR - 1 < w ? "NaN" : sprintf("%.6g", s / w)) }' > "$d/train_plot.csv"
      if [ -f "$d/run.json" ]; then
        last=$(tail -n 1 "$d/train_plot.csv" | cut -d, -f8,9)
        echo "${gn%%/*},${gn#*/},$seed,$(json "$d/run.json" step),$(json "$d/run.json" n_train),$(json "$d/run.json" setup_s),$last,$(json "$d/run.json" ess_model),$(json "$d/run.json" ess_err),$warn"
      else
        echo "${gn%%/*},${gn#*/},$seed,,,,,,,,$warn"
      fi
    done
  done
} > "$out/final.csv"
summarise "$out/final.csv" "group name" "fresh_ess ess_rolling loss_rolling"

names_o=$(for o in $optimizers; do printf '%s ' "${o%%:*}"; done)
names_i=$(for i in $inits; do printf '%s ' "${i%%:*}_${i#*:}"; done)
png=$out/fig4.png
plot "$png" "$here/fig4.gp" \
  "dir='$out'; seeds='$seeds'; optimizers='$names_o'; inits='$names_i'; window=$window; png='$png'"
