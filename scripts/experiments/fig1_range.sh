#!/bin/sh
# fig1_range.sh -- the seed paper's Fig. 1 at its batch range (issue 16):
# a fixed batch 128 times the starting batch of the growing arm, as in the
# seed (16384 against 128 -> 16384). Runs configs/fig1_range/lr.yaml (batch
# 2048, rate halved every 400 steps) and bs.yaml (batch 16 -> 2048, doubled
# every 400 steps) for each seed, and reports for each arm and seed the
# trained samples N_train and training seconds at which the rolling mean of
# the batch ESS over WINDOW steps first reaches 0.2 and 0.6, the ESS on
# fresh samples there, and the ratio lr / bs per seed with its mean and
# spread.
#
# Each run trains in two legs that together are bit for bit one run (as in
# fig1.sh): to rolling ESS 0.2 (the config with target_ess 0.2), then the
# config's own stop with --resume; each leg's final evaluation is the
# fresh-sample ESS at its stop. A batch of 16 overstates the ESS badly, so
# each run is also trained again (bit for bit) in legs of SCAN_EVERY steps
# with the fresh-sample ESS after each, up to where that reaches
# SCAN_LEVEL: the 0.2 comparison without the small-batch bias. Finished
# stages are kept: a leg whose result (legN.json, scan/s<step>.json)
# exists is skipped, and a leg killed half way resumes from its last
# checkpoint, so a killed script continues where it stopped when started
# again. Remove out/fig1_range to start over.
#
# usage: scripts/experiments/fig1_range.sh [SEED ...]     (default: 11 12 13)
#   FLOWGEN  the executable (default: build/flowgen); one rank, one thread
#   WINDOW   rolling window of the thresholds (default 20, the configs' stop window)
#   SCAN_LEVEL, SCAN_EVERY  the fresh-sample scan (default 0.2 and 10 steps)
# Results in out/fig1_range/: <arm>/s<seed>/{train.csv,model.h5,leg1.json,
#   leg2.json,scan.csv}, runs.csv (one row per arm, seed, measure and
#   level), ratios.csv (lr / bs per seed, measure and level), summary.csv
#   (their mean, standard deviation, minimum and maximum over the seeds) and
#   fig1_range.png (gnuplot, scripts/experiments/fig1_range.gp).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/experiments
bin=${FLOWGEN:-$root/build/flowgen}
window=${WINDOW:-20}
scan_every=${SCAN_EVERY:-10}
scan_level=${SCAN_LEVEL:-0.2}
seeds=${*:-11 12 13}
out=$root/out/fig1_range
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig1_range.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
mkdir -p "$out"

. "$here/lib.sh"

# scan RUNDIR: the same run again in RUNDIR/scan/, without a stop rule, in
# legs of SCAN_EVERY steps, each ending with the fresh-sample ESS, up to the
# first leg where it reaches SCAN_LEVEL (or the config's train.steps).
# RUNDIR/scan.csv lists the legs: step,n_train,seconds,ess,ess_err.
scan() {
  mkdir -p "$1/scan"
  steps=$(sed -n 's/^  steps: //p' "$1/leg2.yaml")
  k=$scan_every
  echo "step,n_train,seconds,ess,ess_err" > "$1/scan.csv.part"
  while [ "$k" -le "$steps" ]; do
    config_set "$1/leg2.yaml" "$1/scan/leg.yaml" target_ess 0.0 steps "$k" \
      checkpoint "$1/scan/model.h5" log "$1/scan/train.csv"
    [ -f "$1/scan/s$k.json" ] || echo "fig1_range.sh: $(date +%T) $1: fresh ESS at step $k" >&2
    train_leg "$1/scan" "s$k" "$1/scan/leg.yaml"
    f=$1/scan/s$k.json
    e=$(json "$f" ess_model)
    echo "$(json "$f" step),$(json "$f" n_train),$(json "$f" setup_s),$e,$(json "$f" ess_err)" >> "$1/scan.csv.part"
    awk -v e="$e" -v l="$scan_level" 'BEGIN { exit !(e >= l) }' && break
    k=$((k + scan_every))
  done
  mv "$1/scan.csv.part" "$1/scan.csv"
}

for seed in $seeds; do
  for arm in lr bs; do
    d=$out/$arm/s$seed
    mkdir -p "$d"
    config_set "$root/configs/fig1_range/$arm.yaml" "$d/leg2.yaml" \
      seed "$seed" checkpoint "$d/model.h5" log "$d/train.csv"
    config_set "$d/leg2.yaml" "$d/leg1.yaml" target_ess 0.2
    for n in 1 2; do
      [ -f "$d/leg$n.json" ] || echo "fig1_range.sh: $(date +%T) $arm seed $seed leg $n" >&2
      train_leg "$d" leg$n "$d/leg$n.yaml"
    done
    scan "$d"
  done
done

# runs.csv: where each run's rolling ESS first reached 0.2 and 0.6, and the
# fresh-sample ESS there (leg 1 stops at 0.2; leg 2 at 0.6 when its
# stop_reason is target_ess, otherwise the level was never reached and the
# row gives none); then (measure "fresh") the first leg of the scan whose
# fresh-sample ESS reached SCAN_LEVEL.
{
  echo "arm,seed,measure,level,step,n_train,seconds,fresh_ess,fresh_err"
  for seed in $seeds; do
    for arm in lr bs; do
      d=$out/$arm/s$seed
      awk -v window="$window" -v levels="0.2 0.6" -f "$here/reach.awk" "$d/train.csv" |
        while read -r level step n wall; do
          f=$d/leg1.json
          [ "$level" = 0.6 ] && f=$d/leg2.json
          if [ "$step" = never ] || ! grep -q '"stop_reason": "target_ess"' "$f"; then
            echo "$arm,$seed,rolling,$level,,,,,"
          else
            # seconds from the leg's result: reach.awk rounds them to 0.1 s
            echo "$arm,$seed,rolling,$level,$step,$n,$(json "$f" setup_s),$(json "$f" ess_model),$(json "$f" ess_err)"
          fi
        done
      tail -n 1 "$d/scan.csv" | awk -F, -v pre="$arm,$seed,fresh,$scan_level" \
        -v l="$scan_level" '{ print pre "," ($4 >= l ? $0 : ",,,,") }'
    done
  done
} > "$out/runs.csv"
awk -f "$here/fig1_range.awk" "$out/runs.csv" > "$out/ratios.csv"
awk -v keys="measure level" -v values="ratio_n_train ratio_seconds" -f "$here/stats.awk" \
  "$out/ratios.csv" > "$out/summary.csv"

for f in runs ratios summary; do
  column -s, -t < "$out/$f.csv"
  echo
done

for seed in $seeds; do
  for arm in lr bs; do
    awk -v window="$window" -f "$root/scripts/train_log.awk" "$out/$arm/s$seed/train.csv" \
      > "$out/$arm/s$seed/train_plot.csv"
  done
done
png=$out/fig1_range.png
plot "$png" "$here/fig1_range.gp" "dir='$out'; seeds='$seeds'; window=$window; png='$png'"
