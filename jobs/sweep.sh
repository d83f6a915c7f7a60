#!/bin/bash
# sweep.sh -- a parameter sweep as SLURM job arrays: point k of the sweep
# sets one config key to VALUE_k and trains by transfer from point k-1's
# checkpoint (train.init_from; seed paper Sect. 4.1, Fig. 2), so the points
# train one after another, each starting where the previous one ended.
#
#   jobs/sweep.sh [--out DIR] [--sample] [--hmc] [--dry-run] CONFIG KEY VALUE...
#   e.g. jobs/sweep.sh --sample configs/fig6/lambda_2.0.yaml theory.lambda 2.0 1.6 1.4 1.3
#
# What it submits:
#   train    one array, task k = point k; task k waits for task k-1
#            (afterok), so a failed point cancels the points after it
#   sample   with --sample: an array whose task k starts when train task k
#            succeeded (aftercorr), and an analyze array after it
#   hmc      with --hmc: an array of HMC runs, one per point, at once; an
#            analyze array after it, and with --sample a compare array
#            waiting for both (aftercorr)
#
# Point k's config is DIR/point<k>.yaml: CONFIG with KEY = VALUE_k and every
# file in DIR/point<k>/ (model.h5, train.csv, ensemble.h5, hmc.h5); point 0
# starts from CONFIG's own train.init_from (usually null). DIR defaults to
# "sweep-<KEY>" beside train.checkpoint; logs go to DIR/logs, the job ids
# to DIR/sweep.jobs. Extra sbatch options per step as for pipeline.sh
# (TRAIN_SBATCH_ARGS, ...). --dry-run writes the configs and prints the
# sbatch commands without submitting.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/jobs/lib/jobs.sh"

usage() {
  echo "usage: jobs/sweep.sh [--out DIR] [--sample] [--hmc] [--dry-run] CONFIG KEY VALUE..." >&2
  exit 2
}

out='' with_sample=0 with_hmc=0
export FG_DRY_RUN=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
    --sample) with_sample=1 ;;
    --hmc) with_hmc=1 ;;
    --dry-run) FG_DRY_RUN=1 ;;
    -h | --help) usage ;;
    -*) echo "sweep.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 3 ] || usage
config=$1 key=$2
shift 2
values=("$@")
n=${#values[@]}
[ -f "$config" ] || { echo "sweep.sh: no config at $config" >&2; exit 2; }
config=$(fg_abspath "$config")
fg_config_has "$config" train || { echo "sweep.sh: $config has no train: section" >&2; exit 2; }
[ $with_sample -eq 0 ] || fg_config_has "$config" sample ||
  { echo "sweep.sh: --sample, but $config has no sample: section" >&2; exit 2; }
[ $with_hmc -eq 0 ] || fg_config_has "$config" hmc ||
  { echo "sweep.sh: --hmc, but $config has no hmc: section" >&2; exit 2; }
[ -n "$out" ] || out=$(dirname "$(fg_config_path "$config" train.checkpoint)")/sweep-$key
out=$(fg_abspath "$out")
mkdir -p "$out/logs"

# The point configs: paths made absolute, then this point's own files.
mapfile -t relocated < <(fg_config_relocated "$config")
has_sample=0 has_hmc=0
fg_config_has "$config" sample && has_sample=1
fg_config_has "$config" hmc && has_hmc=1
: >"$out/points.txt"
for ((k = 0; k < n; k++)); do
  d=$out/point$k
  mkdir -p "$d"
  set_args=("${relocated[@]}" "$key=${values[$k]}"
    "train.checkpoint=$d/model.h5" "train.log=$d/train.csv")
  [ $k -gt 0 ] && set_args+=("train.init_from=$out/point$((k - 1))/model.h5")
  [ $has_sample -eq 1 ] && set_args+=("sample.model=$d/model.h5" "sample.output=$d/ensemble.h5")
  [ $has_hmc -eq 1 ] && set_args+=("hmc.output=$d/hmc.h5")
  fg_config_write "$config" "$out/point$k.yaml" "${set_args[@]}" ||
    { echo "sweep.sh: could not write $out/point$k.yaml" >&2; exit 2; }
  echo "$k $key ${values[$k]} $out/point$k.yaml" >>"$out/points.txt"
done
echo "sweep.sh: $n point configs in $out (points.txt lists them)" >&2

export FLOWGEN_ROOT=$root
name=$(basename "$config" .yaml)
last=$((n - 1))
points="$out/point%a.yaml"
log="$out/logs/%x-%A_%a.log"

# Training: held until every task k > 0 waits for task k-1. The tasks are
# updated from the last to the first: SLURM refuses (as circular) a
# dependency on a task that still shares the array's record with the
# pending tasks after it.
train=$(fg_sbatch TRAIN train --hold --array="0-$last" --kill-on-invalid-dep=yes \
  --job-name="fg-sweep-train-$name" --output="$log" "$root/jobs/train.sbatch" "$points")
cancel_on_error() { [ "$FG_DRY_RUN" = 1 ] || scancel "$train" 2>/dev/null; }
trap 'echo "sweep.sh: submission failed; cancelling array $train" >&2; cancel_on_error' ERR
for ((k = last; k >= 1; k--)); do
  if [ "$FG_DRY_RUN" = 1 ]; then
    echo "scontrol update JobId=${train}_$k Dependency=afterok:${train}_$((k - 1))" >&2
  else
    scontrol update JobId="${train}_$k" Dependency="afterok:${train}_$((k - 1))"
  fi
done
record=("train $train")

# per-point follow-up arrays: STEP DEPENDENCY SCRIPT ARGS...
follow() {
  local step=$1 dep=$2 script=$3
  shift 3
  local opts=(--array="0-$last" --job-name="fg-sweep-$step-$name" --output="$log")
  [ -n "$dep" ] && opts+=(--dependency="$dep" --kill-on-invalid-dep=yes)
  fg_sbatch "${step^^}" "$step" "${opts[@]}" "$root/jobs/$script" "$points" "$@"
}

if [ $with_sample -eq 1 ]; then
  sample=$(follow sample "aftercorr:$train" sample.sbatch)
  analyze=$(follow analyze "aftercorr:$sample" analyze.sbatch flow)
  record+=("sample $sample" "analyze $analyze")
fi
if [ $with_hmc -eq 1 ]; then
  hmc=$(follow hmc "" hmc.sbatch)
  analyze_hmc=$(follow analyze-hmc "aftercorr:$hmc" analyze.sbatch hmc)
  record+=("hmc $hmc" "analyze-hmc $analyze_hmc")
  if [ $with_sample -eq 1 ]; then
    compare=$(follow compare "aftercorr:$sample,aftercorr:$hmc" analyze.sbatch compare)
    record+=("compare $compare")
  fi
fi
trap - ERR
if [ "$FG_DRY_RUN" = 1 ]; then
  echo "scontrol release $train" >&2
else
  scontrol release "$train"
fi
printf '%s\n' "${record[@]}"
[ "$FG_DRY_RUN" = 1 ] || printf '%s\n' "${record[@]}" >"$out/sweep.jobs"
