#!/bin/sh
# rates.sh -- prepares a re-measurement of the rates of configs/fig6/scan.sh
# on a quiet machine: removes the timed stages (sampling, HMC) and the
# analyses built on them, keeping every trained model, so that the next
# scan.sh run (same environment) redoes only those. Rates measured while
# other processes shared the cores are slower than the machine's, flow and
# HMC alike but not equally; docs/fig6.md quotes re-measured rates.
#
# usage: configs/fig6/rates.sh [NAME]   (the folder under out/fig6; L16 by
#        default), then scan.sh again with the same environment
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "$here/../.." && pwd)/out/fig6/${1:-L16}
[ -d "$out" ] || { echo "rates.sh: no scan at $out" >&2; exit 2; }
for d in "$out"/*/lambda_*; do
  [ -d "$d" ] || continue
  case "$d" in
    "$out"/hmc/*) rm -f "$d/hmc.json" "$d/hmc.h5" "$d/hmc.h5.tmp" "$d/analyze.json" ;;
    *) rm -f "$d/sample.json" "$d/flow.h5" "$d/flow.h5.tmp" "$d/analyze.json" \
             "$d/compare.json" "$d/validate.json" ;;
  esac
done
echo "rates.sh: timed stages of $out removed; run scan.sh again" >&2
