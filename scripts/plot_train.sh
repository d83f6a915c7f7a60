#!/bin/sh
# plot_train.sh -- draws a flowgen training log (the CSV that `flowgen train`
# writes to train.log) as one PNG with gnuplot: loss and batch ESS (with its
# rolling mean) against step and against N_train (log x), batch size and
# learning rate against step. Columns are found by name in the header
# (scripts/train_log.awk); the drawing is scripts/plot_train.gp.
#
# usage: scripts/plot_train.sh TRAIN.csv [OUT.png]
#   OUT.png  default: TRAIN.csv with .csv replaced by .png
#   WINDOW   steps in the rolling mean of the batch ESS (default 20, the
#            window of the configs' stop rule)
# Exit status: 0 drawn; 2 bad input (no such file, not a flowgen training
# log, no rows) or no gnuplot; 1 gnuplot failed (e.g. OUT.png not writable).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
window=${WINDOW:-20}
die() { echo "plot_train.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: plot_train.sh TRAIN.csv [OUT.png]"
csv=$1
case $csv in
  *.csv) png=${2:-${csv%.csv}.png} ;;
  *) png=${2:-$csv.png} ;;
esac
[ -f "$csv" ] || die "$csv: no such file"
[ -r "$csv" ] || die "$csv: cannot read it"
[ -d "$(dirname "$png")" ] || die "$png: no such directory"
case $window in
  ''|*[!0-9]*|0) die "WINDOW must be a positive whole number of steps, not '$window'" ;;
esac
command -v gnuplot >/dev/null ||
  die "gnuplot not found. Install it (Debian: apt-get install gnuplot-nox, or bash scripts/setup.sh)"

tmp=$(mktemp -t flowgen-plot.XXXXXX)
trap 'rm -f "$tmp" "$tmp.err"' EXIT
awk -v window="$window" -f "$here/train_log.awk" "$csv" > "$tmp" 2> "$tmp.err" ||
  die "$(cat "$tmp.err")"

# pngcairo draws better; plain png (libgd) where gnuplot was built without cairo
term=png
gnuplot -e "set terminal pngcairo" 2>/dev/null && term=pngcairo
# gnuplot strings are in single quotes: double any quote in the paths
q() { printf '%s' "$1" | sed "s/'/''/g"; }
gnuplot -e "csv='$(q "$tmp")'; png='$(q "$png")'; name='$(q "$csv")'; window=$window; term='$term'" \
  "$here/plot_train.gp" || { echo "plot_train.sh: gnuplot failed drawing $png" >&2; exit 1; }
echo "plot_train.sh: wrote $png" >&2
