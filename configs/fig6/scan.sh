#!/bin/sh
# scan.sh -- the seed paper's Fig. 6 as the seed ran it, scaled to this
# machine (docs/fig6.md): phi^4 at m2 = -4 on L x L, the four architectures
# (K, nL) = (3, 12), (3, 24), (5, 6), (5, 24), each trained first at the
# most critical lambda (START) and then retrained sequentially to each next
# lambda (lr 1e-4, optimizer state carried over by train.init_from) up
# (UP, towards the symmetric phase) and down (DOWN, into the broken phase);
# every model sampled, HMC run at every lambda, both measured with the same
# analysis (flowgen compare, flowgen analyze --validate, flowgen analyze).
#
# usage: configs/fig6/scan.sh          (the L = 16 scan)
#        L=32 configs/fig6/scan.sh     (the L = 32 scan, one architecture)
# Environment (defaults for L = 16; L = 32 in brackets):
#   ARCHS        "3x12 3x24 5x6 5x24" ["3x12"]: KxnL, kernel x coupling layers
#   START        1.1: the first lambda (the susceptibility peak at L = 16)
#   UP, DOWN     "1.2 1.3 1.5 2.0", "1.0 0.9": the transfer chains from START
#   SYMMETRY     z2 | none (z2)           GRADIENT  reparameterization (path...)
#   SYMMETRY0    the first training's symmetry (SYMMETRY); retraining may
#                switch it on (the parameters are the same)
#   BASE         normal | free_field (normal); MU_INIT 1.0 (free_field's mass)
#   INIT0        a model the first training starts from (train.init_from; the
#                first training's steps, batches and symmetry are kept), e.g.
#                one trained at another L (the convolutions do not depend on L)
#   STEPS0       first training steps (per architecture: 3x12 4500, 3x24
#                2250, 5x6 3200, 5x24 800 [L = 32: 3x12 3000]: about equal
#                wall time), the batch doubling from BATCH0 = 64 every third
#                of them (to MAXBATCH = 256); STEPS1 retraining steps per
#                lambda (300) at the constant batch BATCH1 (128); STEPS1_<arch>
#                (e.g. STEPS1_5x24) overrides it for one architecture, as
#                STEPS0_<arch> does STEPS0
#   LR0 1e-3, LR1 1e-4, RANKS 1 (training ranks, mpirun; batches per rank)
#   PROPOSALS 20000, TRAJECTORIES 100000, MDSTEPS 8 [10]
#   PHASE        all | hmc | flow | table (all)
#   NAME         the output folder under out/fig6 (L<L>)
#   FLOWGEN      the executable (build/flowgen); FRESH=1 starts over
# Finished stages are kept: a killed scan continues where it stopped when
# run again. Two scans of the same L with different ARCHS may run at once
# (one core each), once PHASE=hmc has finished.
# Results: out/fig6/L<L>/scan.csv (one row per architecture and lambda) and
# out/fig6/L<L>/scan.png (gnuplot), with every file of every stage under
# out/fig6/L<L>/<arch>/lambda_<l>/ (<arch>-none with SYMMETRY=none) and
# out/fig6/L<L>/hmc/lambda_<l>/. To re-measure the rates on a quiet machine
# keeping the trained models: configs/fig6/rates.sh, then this again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${FLOWGEN:-$root/build/flowgen}
L=${L:-16}
if [ "$L" = 32 ]; then
  archs=${ARCHS:-3x12}
  md=${MDSTEPS:-10}
else
  archs=${ARCHS:-3x12 3x24 5x6 5x24}
  md=${MDSTEPS:-8}
fi
start=${START:-1.1}
up=${UP-1.2 1.3 1.5 2.0}
down=${DOWN-1.0 0.9}
sym=${SYMMETRY:-z2}
sym0=${SYMMETRY0:-$sym}
base=${BASE:-normal}
mu_init=${MU_INIT:-1.0}
maxbatch=${MAXBATCH:-256}
init0=${INIT0:-}
grad=${GRADIENT:-reparameterization}
steps1=${STEPS1:-300}
batch0=${BATCH0:-64}
batch1=${BATCH1:-128}
lr0=${LR0:-1.0e-3}
lr1=${LR1:-1.0e-4}
ranks=${RANKS:-1}
proposals=${PROPOSALS:-20000}
trajectories=${TRAJECTORIES:-100000}
phase=${PHASE:-all}
out=$root/out/fig6/${NAME:-L$L}
export OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
[ -x "$bin" ] || { echo "scan.sh: no executable at $bin (build first, or set FLOWGEN)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "scan.sh: python3 is needed to tabulate the JSON" >&2; exit 2; }
[ "${FRESH:-0}" = 1 ] && rm -rf "$out"
mkdir -p "$out"
lambdas="$start $up $down"

steps0_of() { # the default first-training budget of an architecture
  eval "v=\${STEPS0_$1:-}"
  [ -n "$v" ] && { echo "$v"; return; }
  [ -n "${STEPS0:-}" ] && { echo "$STEPS0"; return; }
  case "$L:$1" in
    32:3x12) echo 3000 ;;
    *:3x12) echo 4500 ;; *:3x24) echo 2250 ;; *:5x6) echo 3200 ;; *:5x24) echo 800 ;;
    *) echo 3000 ;;
  esac
}

steps1_of() { # the retraining budget per lambda of an architecture
  eval "v=\${STEPS1_$1:-}"
  echo "${v:-$steps1}"
}

# config DIR LAMBDA ARCH STEPS LR INIT: writes DIR/run.yaml from the template
# (first training: batch0 doubling every third of STEPS, symmetry sym0;
# retraining, INIT given: batch1, constant, symmetry sym).
config() {
  k=${3%x*} nl=${3#*x}
  init="" b=$batch0 every=$(( ($4 + 2) / 3 )) s=$sym0 mu=""
  [ -n "$6" ] && init="init_from: $6" b=$batch1 every=$(( $4 + 1 )) s=$sym
  [ -z "$6" ] && [ -n "$init0" ] && init="init_from: $init0"
  [ "$base" = free_field ] && mu="mu_init: $mu_init"
  sed -e "s|@EXTENT@|$L|g" -e "s|@LAMBDA@|$2|" -e "s|@LAYERS@|$nl|" -e "s|@KERNEL@|$k|" \
      -e "s|@SYMMETRY@|$s|" -e "s|@GRADIENT@|$grad|" -e "s|@STEPS@|$4|" -e "s|@BATCH@|$b|" \
      -e "s|@EVERY@|$every|" -e "s|@BASE@|$base|" -e "s|@MU_INIT@|$mu|" \
      -e "s|@MAXBATCH@|$maxbatch|" \
      -e "s|@LR@|$5|" -e "s|@DIR@|$1|g" -e "s|@PROPOSALS@|$proposals|" \
      -e "s|@TRAJECTORIES@|$trajectories|" -e "s|@MDSTEPS@|$md|" -e "/^#/d" \
      -e "s|@INIT_FROM@|$init|" "$here/scan.yaml.in" > "$1/run.yaml"
}

. "$here/stage.sh"

hmc_point() { # HMC and its analysis at one lambda
  d=$out/hmc/lambda_$1
  mkdir -p "$d"
  config "$d" "$1" 3x12 1 "$lr0" ""
  [ -f "$d/hmc.json" ] || rm -f "$d/hmc.h5" "$d/hmc.h5.tmp"
  stage hmc "$d" "$bin" hmc "$d/run.yaml" --overwrite
  stage analyze "$d" "$bin" analyze "$d/hmc.h5"
}

# An architecture's folder: KxnL with z2, KxnL-none without.
tag=""
[ "$sym" = z2 ] || tag=-$sym

flow_point() { # flow_point ARCH LAMBDA STEPS LR INIT: train, sample, measure
  d=$out/$1$tag/lambda_$2
  h=$out/hmc/lambda_$2
  mkdir -p "$d"
  config "$d" "$2" "$1" "$3" "$4" "$5"
  if [ ! -f "$d/train.json" ]; then
    rm -f "$d/model.h5" "$d/train.csv"
    if [ "$ranks" -gt 1 ]; then
      stage train "$d" mpirun --oversubscribe -n "$ranks" "$bin" train "$d/run.yaml"
    else
      stage train "$d" "$bin" train "$d/run.yaml"
    fi
  fi
  [ -f "$d/sample.json" ] || rm -f "$d/flow.h5" "$d/flow.h5.tmp"
  stage sample "$d" "$bin" sample "$d/run.yaml" --overwrite
  stage analyze "$d" "$bin" analyze "$d/flow.h5"
  if [ -f "$h/hmc.h5" ]; then
    stage compare "$d" "$bin" compare "$d/flow.h5" "$h/hmc.h5"
    stage validate "$d" "$bin" analyze "$d/flow.h5" --validate "$h/hmc.h5"
  fi
}

if [ "$phase" = all ] || [ "$phase" = hmc ]; then
  for lam in $lambdas; do hmc_point "$lam"; done
fi

if [ "$phase" = all ] || [ "$phase" = flow ]; then
  for a in $archs; do
    flow_point "$a" "$start" "$(steps0_of "$a")" "$lr0" ""
    for chain in "$up" "$down"; do # each transfer chain starts from START
      prev=$start
      for lam in $chain; do
        flow_point "$a" "$lam" "$(steps1_of "$a")" "$lr1" "$out/$a$tag/lambda_$prev/model.h5"
        prev=$lam
      done
    done
  done
fi

python3 "$here/scan_table.py" "$out" "$start" "$up" "$down" > "$out/scan.csv.part"
mv "$out/scan.csv.part" "$out/scan.csv"
echo "scan.sh: wrote $out/scan.csv" >&2
column -s, -t < "$out/scan.csv" 2>/dev/null || cat "$out/scan.csv"
if command -v gnuplot >/dev/null; then
  present=$(cut -d, -f2 "$out/scan.csv" | sed 1d | sort -u | tr '\n' ' ')
  label="$base base, z2"
  [ "$sym" = z2 ] || label="$base base"
  [ "$sym0" = "$sym" ] || label="$base base, $sym0 then $sym"
  gnuplot -e "csv='$out/scan.csv'; png='$out/scan.png'; L=$L; archs='$present'; label='$label'" \
    "$here/scan.gp"
  echo "scan.sh: wrote $out/scan.png" >&2
else
  echo "scan.sh: gnuplot not found: no plot. Install it (Debian: apt-get install gnuplot-nox)" \
       "and run: gnuplot -e \"csv='$out/scan.csv'; png='$out/scan.png'; L=$L\" $here/scan.gp" >&2
fi
