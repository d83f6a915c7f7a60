#!/bin/sh
# fig8.sh -- the base-distribution comparison of the seed paper's Fig. 8 at
# the scale of docs/experiments.md: the same flow and protocol on a
# free-field base (configs/fig8_free_field.yaml, learned mass mu) and on a
# standard normal base (configs/fig8_normal.yaml). Reports each run's
# final ESS on fresh samples, the N_train and seconds at which the rolling
# batch ESS first reaches 0.2 and 0.6, and the learned mu.
#
# usage: scripts/experiments/fig8.sh [free_field] [normal]   (default: both)
#   FLOWGEN, RANKS, WINDOW as for fig1.sh.
# Results: out/fig8/<base>/{train.csv,model.h5,train.json}, and
#          out/fig8/fig8.png (scripts/experiments/fig8.gp) when gnuplot is
#          installed, from out/fig8/<base>/{train_plot,fresh}.csv
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
ranks=${RANKS:-1}
window=${WINDOW:-20}
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig8.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
bases=${*:-free_field normal}

train() {
  if [ "$ranks" -gt 1 ]; then
    mpirun --oversubscribe -n "$ranks" "$bin" train "$@"
  else
    "$bin" train "$@"
  fi
}

json() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1"; }

for b in $bases; do
  cfg=$root/configs/fig8_$b.yaml
  [ -f "$cfg" ] || { echo "fig8.sh: no base '$b' ($cfg)" >&2; exit 2; }
  mkdir -p "$root/out/fig8/$b"
  echo "fig8.sh: training $cfg" >&2
  # to a .part file first: a refused or failed run leaves an earlier result
  train "$cfg" --json > "$root/out/fig8/$b/train.json.part"
  mv "$root/out/fig8/$b/train.json.part" "$root/out/fig8/$b/train.json"
done

echo
echo "Final ESS on fresh samples (eq. A7)"
printf '%-11s %6s %10s %18s %9s %8s\n' base steps N_train ESS seconds mu
for b in $bases; do
  f=$root/out/fig8/$b/train.json
  mu=$("$bin" info "$root/out/fig8/$b/model.h5" --json | sed -n 's/.*"mu": \(null\|[-0-9.eE+][-0-9.eE+]*\).*/\1/p')
  printf '%-11s %6s %10s %10.4f +- %.4f %9.1f %8s\n' "$b" "$(json "$f" step)" \
    "$(json "$f" n_train)" "$(json "$f" ess_model)" "$(json "$f" ess_err)" \
    "$(json "$f" setup_s)" "$mu"
done
echo
echo "Rolling mean of the batch ESS over $window steps; N_train and seconds when it first reaches the level"
printf '%-11s %-6s %7s %10s %9s\n' base level step N_train seconds
for b in $bases; do
  awk -v window="$window" -v levels="0.2 0.6" -f "$root/scripts/experiments/reach.awk" \
    "$root/out/fig8/$b/train.csv" |
    while read -r level step n wall; do
      printf '%-11s %-6s %7s %10s %9s\n' "$b" "$level" "$step" "$n" "$wall"
    done
done

# The plot: rolling ESS and loss against N_train, and the fresh-sample ESS
# after each run (scripts/experiments/fig8.gp).
for b in $bases; do
  d=$root/out/fig8/$b
  awk -v window="$window" -f "$root/scripts/train_log.awk" "$d/train.csv" > "$d/train_plot.csv"
  printf 'n_train,setup_s,ess,ess_err\n%s,%s,%s,%s\n' "$(json "$d/train.json" n_train)" \
    "$(json "$d/train.json" setup_s)" "$(json "$d/train.json" ess_model)" \
    "$(json "$d/train.json" ess_err)" > "$d/fresh.csv"
done
png=$root/out/fig8/fig8.png
vars="dir='$root/out/fig8'; bases='$bases'; window=$window; png='$png'"
if command -v gnuplot >/dev/null; then
  gnuplot -e "$vars" "$root/scripts/experiments/fig8.gp"
  echo "fig8.sh: wrote $png" >&2
else
  echo "fig8.sh: gnuplot not found: no plot. Install it (Debian: apt-get install gnuplot-nox)" \
       "and run: gnuplot -e \"$vars\" $root/scripts/experiments/fig8.gp" >&2
fi
