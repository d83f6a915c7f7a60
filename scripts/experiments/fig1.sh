#!/bin/sh
# fig1.sh -- the two training protocols of the seed paper's Fig. 1 at the
# scale of docs/experiments.md: learning-rate decay at a fixed batch
# (configs/fig1_schedule_lr.yaml) against a growing batch at a fixed rate
# (configs/fig1_schedule_bs.yaml). For each it reports the trained samples
# N_train and the training seconds at which the rolling mean of the batch
# ESS over WINDOW steps first reaches 0.2 and 0.6, and the ESS on fresh
# samples at those points.
#
# Each protocol trains in two legs that together are bit for bit one run:
# up to the first level (a copy of the config with target_ess 0.2, same
# checkpoint and log), then the shipped config with --resume up to its own
# stop (target_ess 0.6 or train.steps). The first leg's final evaluation
# gives the fresh-sample ESS where the batch ESS crossed 0.2, which shows
# how far the small-batch estimate is biased there.
#
# usage: scripts/experiments/fig1.sh [lr] [bs]      (default: both)
#   FLOWGEN  the executable (default: build/flowgen)
#   RANKS    MPI ranks per run (default 1). The configs' batches are per
#            rank: RANKS=2 doubles the global batch, a different protocol.
#   WINDOW   rolling window of the thresholds (default 20, the configs' stop window)
# Results: out/fig1/<protocol>/{train.csv,model.h5,leg1.json,leg2.json}, and
#          out/fig1/fig1.png (scripts/experiments/fig1.gp) when gnuplot is
#          installed, from out/fig1/<protocol>/{train_plot,fresh}.csv
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
ranks=${RANKS:-1}
window=${WINDOW:-20}
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig1.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
protocols=${*:-lr bs}

train() {
  if [ "$ranks" -gt 1 ]; then
    mpirun --oversubscribe -n "$ranks" "$bin" train "$@"
  else
    "$bin" train "$@"
  fi
}

# json FILE KEY: the number after "KEY": in a one-line JSON object.
json() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1"; }

for p in $protocols; do
  cfg=$root/configs/fig1_schedule_$p.yaml
  out=$root/out/fig1/$p
  [ -f "$cfg" ] || { echo "fig1.sh: no protocol '$p' ($cfg)" >&2; exit 2; }
  mkdir -p "$out"
  # Leg 1: the same config with paths made absolute and target_ess 0.2.
  sed -e "s|\.\./out/|$root/out/|g" -e 's/target_ess: [0-9.eE+-]*/target_ess: 0.2/' \
    "$cfg" > "$out/leg1.yaml"
  # Each result goes to a .part file first: a refused or failed run leaves
  # an earlier result as it was.
  echo "fig1.sh: $p: training to rolling ESS 0.2" >&2
  train "$out/leg1.yaml" --json > "$out/leg1.json.part"
  mv "$out/leg1.json.part" "$out/leg1.json"
  echo "fig1.sh: $p: resuming with $cfg" >&2
  train "$cfg" --resume --json > "$out/leg2.json.part"
  mv "$out/leg2.json.part" "$out/leg2.json"
done

echo
echo "Rolling mean of the batch ESS over $window steps; N_train and seconds when it first reaches the level"
printf '%-9s %-6s %7s %10s %9s\n' protocol level step N_train seconds
for p in $protocols; do
  awk -v window="$window" -v levels="0.2 0.6" -f "$root/scripts/experiments/reach.awk" \
    "$root/out/fig1/$p/train.csv" |
    while read -r level step n wall; do
      printf '%-9s %-6s %7s %10s %9s\n' "$p" "$level" "$step" "$n" "$wall"
    done
done
echo
echo "ESS on fresh samples (eq. A7) at the end of each leg"
printf '%-9s %-20s %10s %18s %-10s\n' protocol leg N_train ESS stopped
for p in $protocols; do
  for leg in 1 2; do
    f=$root/out/fig1/$p/leg$leg.json
    what="to ESS 0.2"
    [ "$leg" = 2 ] && what="to the config's stop"
    stop=$(sed -n 's/.*"stop_reason": "\([a-z_]*\)".*/\1/p' "$f")
    printf '%-9s %-20s %10s %10.4f +- %.4f %-10s\n' "$p" "$what" "$(json "$f" n_train)" \
      "$(json "$f" ess_model)" "$(json "$f" ess_err)" "$stop"
  done
done

# The plot: rolling ESS against N_train and seconds, and the fresh-sample
# ESS at the end of each leg (scripts/experiments/fig1.gp).
for p in $protocols; do
  d=$root/out/fig1/$p
  awk -v window="$window" -f "$root/scripts/train_log.awk" "$d/train.csv" > "$d/train_plot.csv"
  {
    echo "n_train,setup_s,ess,ess_err"
    for leg in 1 2; do
      f=$d/leg$leg.json
      echo "$(json "$f" n_train),$(json "$f" setup_s),$(json "$f" ess_model),$(json "$f" ess_err)"
    done
  } > "$d/fresh.csv"
done
png=$root/out/fig1/fig1.png
vars="dir='$root/out/fig1'; protocols='$protocols'; window=$window; png='$png'"
if command -v gnuplot >/dev/null; then
  gnuplot -e "$vars" "$root/scripts/experiments/fig1.gp"
  echo "fig1.sh: wrote $png" >&2
else
  echo "fig1.sh: gnuplot not found: no plot. Install it (Debian: apt-get install gnuplot-nox)" \
       "and run: gnuplot -e \"$vars\" $root/scripts/experiments/fig1.gp" >&2
fi
