#!/bin/sh
# fig7.sh -- the seed paper's Fig. 7 at this machine's scale: the ESS of
# flows trained on 8x8 (beta = 2; kappa = 0, 0.25, 0.263: the models of
# scripts/experiments/fig2.sh) and sampled, without retraining, on L x L
# for L = 8, 12, 16, 20, 24, against the extrapolation ESS(V0)^(V/V0) of
# the seed's eq. 8 (V0 = 64), and a M_pi from the flow ensembles
# (`flowgen analyze`, independence Metropolis).
#
# Proposals per point: 8192 (L <= 16), 4096 (L = 20, 24) at kappa = 0,
# 2048 at kappa > 0 and L >= 20 (the exact determinant of a 1152 x 1152
# operator costs ~10-40 ms per sample). An ESS below a few / N is at the
# floor 1/N of what N proposals can show; the plot draws that floor.
# A finished point (out/fig7/<kappa>/L<L>.json) is kept: a killed script
# continues with the next point.
#
# usage: scripts/experiments/fig7.sh        (after fig2.sh)
#   FLOWGEN  the executable (default: build/flowgen)
#   LS       the lattice sizes (default "8 12 16 20 24"; 8 must be among them)
#   NMAX     at most this many proposals per point (default: no cap)
# Results: out/fig7/fig7.csv, out/fig7/fig7.png (gnuplot, fig7.gp)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "fig7.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
py=/usr/bin/python3
[ -x "$py" ] || py=python3

model_of() {
  case $1 in
    0) echo "$root/out/fig2/k0/model.h5" ;;
    0.25) echo "$root/out/fig2/from0_k0.25/model.h5" ;;
    0.263) echo "$root/out/fig2/seq_k0.263/model.h5" ;;
  esac
}

for kappa in 0 0.25 0.263; do
  model=$(model_of $kappa)
  # A finished fig2.sh stage only: its train.json is written at the end.
  [ -f "$(dirname "$model")/train.json" ] ||
    { echo "fig7.sh: no finished model $model (run scripts/experiments/fig2.sh first)" >&2; exit 2; }
  out=$root/out/fig7/$kappa
  mkdir -p "$out"
  for L in ${LS:-8 12 16 20 24}; do
    [ -f "$out/L$L.json" ] && continue
    n=8192
    [ "$L" -ge 20 ] && n=4096
    [ "$L" -ge 20 ] && [ "$kappa" != 0 ] && n=2048
    [ -n "${NMAX:-}" ] && [ "$n" -gt "$NMAX" ] && n=$NMAX
    echo "fig7.sh: kappa $kappa, L = $L: $n proposals" >&2
    sed -e "s|\[L, L\]|[$L, $L]|" -e "s|KAPPA|$kappa|" -e "s|MODEL|$model|" \
      -e "s|PROPOSALS|$n|" -e "s|OUTPUT|$out/L$L.h5|" "$root/configs/fig7/sample.yaml.in" > "$out/L$L.yaml"
    rm -f "$out/L$L.h5"
    "$bin" sample "$out/L$L.yaml" --json > "$out/L$L.sample.json"
    "$bin" analyze "$out/L$L.h5" --json > "$out/L$L.json.part"
    mv "$out/L$L.json.part" "$out/L$L.json"
  done
done
"$py" "$root/scripts/experiments/fig7.py" "$root/out/fig7" > "$root/out/fig7/fig7.csv.part"
mv "$root/out/fig7/fig7.csv.part" "$root/out/fig7/fig7.csv"
column -s, -t < "$root/out/fig7/fig7.csv" 2>/dev/null || cat "$root/out/fig7/fig7.csv"
png=$root/out/fig7/fig7.png
if command -v gnuplot >/dev/null; then
  gnuplot -e "csv='$root/out/fig7/fig7.csv'; png='$png'" "$root/scripts/experiments/fig7.gp"
  echo "fig7.sh: wrote $png" >&2
else
  echo "fig7.sh: gnuplot not found: no plot (Debian: apt-get install gnuplot-nox)" >&2
fi
