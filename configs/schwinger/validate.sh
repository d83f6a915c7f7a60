#!/bin/sh
# validate.sh -- the Schwinger-model validation of docs/schwinger.md: HMC
# on 8x8 for pure gauge at beta = 2 and 4 (against the exact finite-volume
# values) and for two flavours at beta = 2, kappa = 0.25 and 0.263 with
# pseudofermions and with the exact determinant (against each other); then
# `flowgen analyze --json` of each ensemble and the table (validate.py).
#
# usage: configs/schwinger/validate.sh
#   FLOWGEN  the executable (default: build/flowgen)
#   FRESH=1  start over; otherwise finished stages are kept (a killed run
#            continues where it stopped: an interrupted HMC is resumed)
# Results: configs/schwinger/out/*.h5, *.analyze.json, validation.md.
# Takes about 5 minutes on one core of the 2-core machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
out=$here/out
export OPENBLAS_NUM_THREADS=1
[ -x "$bin" ] || { echo "validate.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
[ "${FRESH:-0}" = 1 ] && rm -rf "$out"
mkdir -p "$out"
who=validate.sh
. "$here/hmc_stage.sh"
for name in hmc_b2_k0 hmc_b4_k0 hmc_b6_k0 hmc_b2_k0.25_pf hmc_b2_k0.25_exact hmc_b2_k0.263_pf \
            hmc_b2_k0.263_exact; do
  hmc_stage "$name"
done
/usr/bin/python3 "$here/validate.py" "$out" | tee "$out/validation.md"
