#!/bin/bash
# pipeline.sh -- submits the whole flowgen chain for one config as SLURM jobs
# that wait for each other (--dependency=afterok):
#
#   train -> sample -> analyze                        always
#   hmc -> analyze-hmc, and (sample, hmc) -> compare  with --hmc
#
#   jobs/pipeline.sh [--hmc] [--logs DIR] [--dry-run] CONFIG
#
# Prints one line "STEP JOBID" per job (also kept in
# DIR/pipeline-<train job id>.jobs). Logs: DIR/<job name>-<job id>.log,
# default DIR "logs" beside train.checkpoint. A job that fails makes SLURM
# cancel the jobs waiting for it (--kill-on-invalid-dep=yes). --dry-run
# prints the sbatch commands instead of running them.
#
# Extra sbatch options per step, word-split: TRAIN_SBATCH_ARGS,
# SAMPLE_SBATCH_ARGS, HMC_SBATCH_ARGS, ANALYZE_SBATCH_ARGS, e.g.
#   TRAIN_SBATCH_ARGS="--ntasks=16 --time=8:00:00" jobs/pipeline.sh configs/x.yaml
# The jobs run $FLOWGEN (default: build/flowgen of this checkout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/jobs/lib/jobs.sh"

usage() {
  echo "usage: jobs/pipeline.sh [--hmc] [--logs DIR] [--dry-run] CONFIG" >&2
  exit 2
}

with_hmc=0 logs='' config=''
export FG_DRY_RUN=0
while [ $# -gt 0 ]; do
  case $1 in
    --hmc) with_hmc=1 ;;
    --dry-run) FG_DRY_RUN=1 ;;
    --logs) [ $# -ge 2 ] || usage; logs=$2; shift ;;
    -h | --help) usage ;;
    -*) echo "pipeline.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$config" ] || usage; config=$1 ;;
  esac
  shift
done
[ -n "$config" ] || usage
[ -f "$config" ] || { echo "pipeline.sh: no config at $config" >&2; exit 2; }
config=$(fg_abspath "$config")
for section in train sample; do
  fg_config_has "$config" "$section" ||
    { echo "pipeline.sh: $config has no $section: section" >&2; exit 2; }
done
if [ $with_hmc -eq 1 ] && ! fg_config_has "$config" hmc; then
  echo "pipeline.sh: --hmc, but $config has no hmc: section" >&2
  exit 2
fi
[ -n "$logs" ] || logs=$(dirname "$(fg_config_path "$config" train.checkpoint)")/logs
logs=$(fg_abspath "$logs")
[ "$FG_DRY_RUN" = 1 ] || mkdir -p "$logs"
# The jobs find jobs/lib through it (sbatch passes the environment on).
export FLOWGEN_ROOT=$root
name=$(basename "$config" .yaml)

# submit STEP DEPENDENCIES SCRIPT ARGS...
submit() {
  local step=$1 deps=$2 script=$3
  shift 3
  local opts=(--job-name="fg-$step-$name" --output="$logs/%x-%j.log")
  [ -n "$deps" ] && opts+=(--dependency="afterok:$deps" --kill-on-invalid-dep=yes)
  fg_sbatch "$step" "$step" "${opts[@]}" "$root/jobs/$script" "$@"
}

train=$(submit train "" train.sbatch "$config")
sample=$(submit sample "$train" sample.sbatch "$config")
analyze=$(submit analyze "$sample" analyze.sbatch "$config" flow)
record=("train $train" "sample $sample" "analyze $analyze")
if [ $with_hmc -eq 1 ]; then
  hmc=$(submit hmc "" hmc.sbatch "$config")
  analyze_hmc=$(submit analyze-hmc "$hmc" analyze.sbatch "$config" hmc)
  compare=$(submit compare "$sample:$hmc" analyze.sbatch "$config" compare)
  record+=("hmc $hmc" "analyze-hmc $analyze_hmc" "compare $compare")
fi
printf '%s\n' "${record[@]}"
[ "$FG_DRY_RUN" = 1 ] || printf '%s\n' "${record[@]}" >"$logs/pipeline-$train.jobs"
