#!/bin/bash
# hmc_streams.sh -- N independent HMC streams of one config as a SLURM job
# array of one-task jobs, which SLURM may run side by side, one after the
# other, or on different nodes as it likes; each requeues and resumes
# itself like jobs/hmc.sbatch.
#
#   jobs/hmc_streams.sh [--out DIR] [--analyze] [--dry-run] CONFIG N
#
# Stream k's config is DIR/stream<k>.yaml: CONFIG with seed = seed + k (so
# the streams draw different numbers: keep the seeds of different stream
# sets N apart) and hmc.output = DIR/stream<k>.h5. DIR defaults to
# "streams" beside hmc.output; logs go to DIR/logs, the job ids to
# DIR/streams.jobs. --analyze adds an array that analyses stream k once it
# finished (aftercorr). HMC_SBATCH_ARGS, ANALYZE_SBATCH_ARGS: extra sbatch
# options. --dry-run writes the configs and prints the sbatch commands.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/jobs/lib/jobs.sh"

usage() {
  echo "usage: jobs/hmc_streams.sh [--out DIR] [--analyze] [--dry-run] CONFIG N" >&2
  exit 2
}

out='' with_analyze=0
export FG_DRY_RUN=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
    --analyze) with_analyze=1 ;;
    --dry-run) FG_DRY_RUN=1 ;;
    -h | --help) usage ;;
    -*) echo "hmc_streams.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
  shift
done
[ $# -eq 2 ] || usage
config=$1 n=$2
[[ $n =~ ^[1-9][0-9]{0,5}$ ]] || { echo "hmc_streams.sh: N must be a positive integer, not '$n'" >&2; exit 2; }
[ -f "$config" ] || { echo "hmc_streams.sh: no config at $config" >&2; exit 2; }
config=$(fg_abspath "$config")
fg_config_has "$config" hmc || { echo "hmc_streams.sh: $config has no hmc: section" >&2; exit 2; }
seed=$(fg_config_get "$config" seed)
# bash counts in signed 64 bits: seeds up to 18 digits leave room for + k.
[[ $seed =~ ^[0-9]{1,18}$ ]] ||
  { echo "hmc_streams.sh: seed '$seed' of $config: want an integer below 10^18" >&2; exit 2; }
[ -n "$out" ] || out=$(dirname "$(fg_config_path "$config" hmc.output)")/streams
out=$(fg_abspath "$out")
mkdir -p "$out/logs"

mapfile -t relocated < <(fg_config_relocated "$config")
for ((k = 0; k < n; k++)); do
  fg_config_write "$config" "$out/stream$k.yaml" "${relocated[@]}" \
    "seed=$((10#$seed + k))" "hmc.output=$out/stream$k.h5" ||
    { echo "hmc_streams.sh: could not write $out/stream$k.yaml" >&2; exit 2; }
done
echo "hmc_streams.sh: $n stream configs in $out" >&2

export FLOWGEN_ROOT=$root
name=$(basename "$config" .yaml)
opts=(--array="0-$((n - 1))" --output="$out/logs/%x-%A_%a.log")
hmc=$(fg_sbatch HMC hmc "${opts[@]}" --job-name="fg-hmc-$name" \
  "$root/jobs/hmc.sbatch" "$out/stream%a.yaml")
record=("hmc $hmc")
if [ $with_analyze -eq 1 ]; then
  analyze=$(fg_sbatch ANALYZE analyze "${opts[@]}" --job-name="fg-analyze-hmc-$name" \
    --dependency="aftercorr:$hmc" --kill-on-invalid-dep=yes \
    "$root/jobs/analyze.sbatch" "$out/stream%a.yaml" hmc)
  record+=("analyze-hmc $analyze")
fi
printf '%s\n' "${record[@]}"
[ "$FG_DRY_RUN" = 1 ] || printf '%s\n' "${record[@]}" >"$out/streams.jobs"
