# jobs.sh -- what the flowgen batch scripts (jobs/*.sbatch) and the submit
# scripts (jobs/pipeline.sh, jobs/sweep.sh, jobs/hmc_streams.sh) share.
# Sourced by bash, never run. docs/cluster.md is the user's side of this.
#
# Environment it reads (all optional):
#   FLOWGEN               the flowgen program (default: <checkout>/build/flowgen)
#   FLOWGEN_LAUNCHER      auto | srun | mpirun | none (default auto: srun with
#                         the PMIx plugin when SLURM has it, else mpirun)
#   FLOWGEN_SRUN_MPI      srun's --mpi plugin (default pmix)
#   FLOWGEN_SRUN_ARGS, FLOWGEN_MPIRUN_ARGS   extra launcher arguments
#   FLOWGEN_MAX_RESTARTS  requeue at most this many times (default 20)
#
# Config access (no YAML library needed):
#   fg_config_get CONFIG KEY     the scalar at a dotted key ("" when absent)
#   fg_config_has CONFIG KEY     true when the key or section exists
#   fg_config_path CONFIG KEY    a path key resolved as flowgen resolves it
#                                (against the config's folder); "" for null
#   fg_config_write BASE OUT KEY=VALUE...   OUT = BASE with keys set
#   fg_config_relocated CONFIG   "KEY=ABSOLUTE" lines for every path key the
#                                config has, so that a derived config written
#                                elsewhere still names the same files
#
# Submitting (pipeline.sh, sweep.sh, hmc_streams.sh):
#   fg_sbatch LABEL STEP ARGS...   sbatch --parsable ARGS, with the extra
#                                options of STEP (train, sample, hmc, or any
#                                other name for analysis steps) from
#                                TRAIN_SBATCH_ARGS, SAMPLE_SBATCH_ARGS,
#                                HMC_SBATCH_ARGS or ANALYZE_SBATCH_ARGS put
#                                before the script; prints the job id. With
#                                FG_DRY_RUN=1 it prints the command on stderr
#                                and LABEL instead of a job id.
#
# In a batch job:
#   fg_job_begin KIND CONFIG    logs job id, array task, restart count,
#                               tasks and threads; sets FG_CONFIG (with "%a"
#                               replaced by the array task id),
#                               OPENBLAS_NUM_THREADS = --cpus-per-task, the
#                               launcher; traps USR1 and TERM
#   fg_job_run ARGS...          on more than one node first logs which node
#                               each rank runs on ("task layout"); then runs
#                               "flowgen ARGS" on the job's tasks in the
#                               background and waits; a USR1 or TERM that
#                               reaches the batch shell is passed on to the
#                               ranks as USR1 (flowgen then checkpoints and
#                               exits 0); returns flowgen's status (a stop
#                               that comes before the start requeues at once)
#   fg_job_requeue              scontrol requeue of this job (it restarts with
#                               SLURM_RESTART_COUNT + 1), unless the restart
#                               limit is reached or the shell got SIGTERM
#                               (scancel, preemption): then returns 1
#   fg_log MESSAGE...           one line on stderr, tagged with the job

FG_JOBS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FG_ROOT=$(cd "$FG_JOBS_LIB/../.." && pwd)

fg_log() {
  local tag="flowgen-job"
  [ -n "${SLURM_JOB_ID:-}" ] && tag="flowgen-job ${SLURM_JOB_ID} restart ${SLURM_RESTART_COUNT:-0}"
  echo "[$tag $(date '+%F %T')] $*" >&2
}

fg_die() {
  fg_log "error: $*"
  exit 2
}

fg_config_get() {
  awk -v mode=get -v key="$2" -f "$FG_JOBS_LIB/yaml.awk" "$1" 2>/dev/null
  return 0
}

fg_config_has() {
  awk -v mode=has -v key="$2" -f "$FG_JOBS_LIB/yaml.awk" "$1" 2>/dev/null
}

fg_config_path() {
  local v
  v=$(fg_config_get "$1" "$2")
  case $v in
    "" | null | "~") return 0 ;;
    /*) echo "$v" ;;
    *) echo "$(dirname "$1")/$v" ;;
  esac
}

fg_config_write() {
  local base=$1 out=$2
  shift 2
  if awk -v mode=set -f "$FG_JOBS_LIB/yaml.awk" "$base" "$@" >"$out.part"; then
    mv "$out.part" "$out"
  else
    rm -f "$out.part"
    return 1
  fi
}

fg_config_relocated() {
  local key p
  for key in train.checkpoint train.log train.init_from sample.model sample.output hmc.output; do
    p=$(fg_config_path "$1" "$key")
    [ -n "$p" ] && echo "$key=$(fg_abspath "$p")"
  done
  return 0
}

# An absolute path for $1 (which need not exist yet), ".." folded away
# without following symbolic links.
fg_abspath() {
  realpath -ms -- "$1" 2>/dev/null && return 0
  case $1 in
    /*) echo "$1" ;;
    *) echo "$(pwd)/$1" ;;
  esac
}

# The file of HMC stream k of n, as flowgen names it (hmc.h: "_rank<k>"
# before the extension when n > 1).
fg_hmc_stream_path() {
  local out=$1 k=$2 n=$3 dir base stem ext
  if [ "$n" -le 1 ]; then echo "$out"; return; fi
  dir=$(dirname "$out")
  base=$(basename "$out")
  case $base in
    ?*.*) stem=${base%.*}; ext=.${base##*.} ;;
    *) stem=$base; ext= ;;
  esac
  echo "$dir/${stem}_rank$k$ext"
}

fg_sbatch() {
  local label=$1 step=$2 extra script_at=0 i
  shift 2
  case $step in
    train) extra=${TRAIN_SBATCH_ARGS:-} ;;
    sample) extra=${SAMPLE_SBATCH_ARGS:-} ;;
    hmc) extra=${HMC_SBATCH_ARGS:-} ;;
    *) extra=${ANALYZE_SBATCH_ARGS:-} ;;
  esac
  # The user's options go last among the options: they win.
  local args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[$i]} in *.sbatch) script_at=$i; break ;; esac
  done
  # shellcheck disable=SC2206
  local cmd=(sbatch --parsable "${args[@]:0:$script_at}" $extra "${args[@]:$script_at}")
  if [ "${FG_DRY_RUN:-0}" = 1 ]; then
    echo "${cmd[*]}" >&2
    echo "$label"
    return 0
  fi
  local out
  out=$("${cmd[@]}") || { echo "sbatch failed: ${cmd[*]}" >&2; return 1; }
  echo "${out%%;*}"
}

fg_pick_launcher() {
  local want=${FLOWGEN_LAUNCHER:-auto}
  if [ "$want" = auto ]; then
    if [ "$FG_NTASKS" -le 1 ] && ! command -v srun >/dev/null; then
      want=none
    elif command -v srun >/dev/null &&
      srun --mpi=list 2>&1 | grep -qw "${FLOWGEN_SRUN_MPI:-pmix}"; then
      want=srun
    elif command -v mpirun >/dev/null; then
      want=mpirun
    elif [ "$FG_NTASKS" -le 1 ]; then
      want=none
    else
      fg_die "neither srun (with the ${FLOWGEN_SRUN_MPI:-pmix} plugin) nor mpirun found"
    fi
  fi
  case $want in
    srun | mpirun | none) FG_LAUNCHER=$want ;;
    *) fg_die "FLOWGEN_LAUNCHER=$want: want auto, srun, mpirun or none" ;;
  esac
  [ "$FG_LAUNCHER" = none ] && [ "$FG_NTASKS" -gt 1 ] &&
    fg_die "FLOWGEN_LAUNCHER=none runs one rank, but the job has $FG_NTASKS tasks"
  return 0
}

# A signal for the batch shell: remember it, and pass it on as USR1 (what
# flowgen stops cleanly on; mpirun exits 1 after forwarding a TERM).
fg_on_signal() {
  fg_log "received SIG$1; asking flowgen to checkpoint and stop"
  FG_STOP_REQUESTED=1
  [ "$1" = TERM ] && FG_TERM_RECEIVED=1
  if [ -n "${FG_CHILD:-}" ] && kill -0 "$FG_CHILD" 2>/dev/null; then
    kill -USR1 "$FG_CHILD" 2>/dev/null
  fi
}

fg_job_begin() {
  local kind=$1 config=$2
  [ -n "$config" ] || fg_die "usage: sbatch jobs/$kind.sbatch CONFIG"
  FG_STOP_REQUESTED=0
  FG_TERM_RECEIVED=0
  FG_CHILD=
  trap 'fg_on_signal USR1' USR1
  trap 'fg_on_signal TERM' TERM
  if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    config=${config//%a/$SLURM_ARRAY_TASK_ID}
  fi
  [ -f "$config" ] || fg_die "config '$config' not found (relative to $(pwd))"
  FG_CONFIG=$config
  FLOWGEN=${FLOWGEN:-$FG_ROOT/build/flowgen}
  [ -x "$FLOWGEN" ] || fg_die "no flowgen program at $FLOWGEN (build it, or set FLOWGEN)"
  FG_NTASKS=${SLURM_NTASKS:-1}
  FG_CPUS=${SLURM_CPUS_PER_TASK:-1}
  # One OpenBLAS thread per CPU SLURM gave each rank, never more.
  export OPENBLAS_NUM_THREADS=$FG_CPUS OMP_NUM_THREADS=$FG_CPUS
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  fg_pick_launcher
  local array=""
  [ -n "${SLURM_ARRAY_TASK_ID:-}" ] &&
    array=" (array ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID})"
  fg_log "$kind: job ${SLURM_JOB_ID:-none}$array restart count ${SLURM_RESTART_COUNT:-0}" \
    "on ${SLURM_JOB_NODELIST:-$(hostname)}: $FG_NTASKS task(s) x $FG_CPUS cpu(s)," \
    "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS, launcher $FG_LAUNCHER, config $FG_CONFIG"
}

fg_launch_command() {
  case $FG_LAUNCHER in
    srun)
      # SLURM >= 22.05 no longer passes --cpus-per-task from sbatch to srun.
      # The extra arguments are split into words on purpose.
      # shellcheck disable=SC2206
      FG_CMD=(srun --mpi="${FLOWGEN_SRUN_MPI:-pmix}" --ntasks="$FG_NTASKS"
        --cpus-per-task="$FG_CPUS" --kill-on-bad-exit=1 ${FLOWGEN_SRUN_ARGS:-}
        "$FLOWGEN" "$@") ;;
    mpirun)
      local map=()
      [ "$FG_CPUS" -gt 1 ] && map=(--map-by "slot:PE=$FG_CPUS")
      # shellcheck disable=SC2206
      FG_CMD=(mpirun -n "$FG_NTASKS" "${map[@]}" ${FLOWGEN_MPIRUN_ARGS:-} "$FLOWGEN" "$@") ;;
    none) FG_CMD=("$FLOWGEN" "$@") ;;
  esac
}

# On more than one node, which node each rank runs on (rank 0, the sampling
# coordinator, first), from a step of the same shape as flowgen's.
fg_log_layout() {
  [ "$FG_LAUNCHER" = srun ] && [ "${SLURM_JOB_NUM_NODES:-1}" -gt 1 ] || return 0
  local layout
  # shellcheck disable=SC2016,SC2086  # expanded by the task; extra args split
  layout=$(srun --mpi=none --ntasks="$FG_NTASKS" --cpus-per-task="$FG_CPUS" ${FLOWGEN_SRUN_ARGS:-} \
    bash -c 'echo "$SLURM_PROCID=$SLURMD_NODENAME"' 2>/dev/null | sort -n | tr '\n' ' ')
  fg_log "task layout (rank=node) on ${SLURM_JOB_NUM_NODES} nodes: ${layout% }"
}

fg_job_run() {
  fg_launch_command "$@"
  fg_log_layout
  if [ "$FG_STOP_REQUESTED" -eq 1 ]; then
    fg_log "stop requested before flowgen started"
    fg_job_requeue
    exit $?
  fi
  fg_log "running: ${FG_CMD[*]}"
  "${FG_CMD[@]}" &
  FG_CHILD=$!
  local rc
  while :; do
    wait "$FG_CHILD"
    rc=$?
    # wait returns early (status > 128) when a trapped signal arrives.
    kill -0 "$FG_CHILD" 2>/dev/null || break
  done
  FG_CHILD=
  fg_log "flowgen $1 exited with status $rc"
  return $rc
}

fg_job_requeue() {
  local n=${SLURM_RESTART_COUNT:-0} max=${FLOWGEN_MAX_RESTARTS:-20}
  if [ -z "${SLURM_JOB_ID:-}" ]; then
    fg_log "not a SLURM job: run again with --resume to continue"
    return 1
  fi
  # SIGTERM is scancel, preemption or the hard limit: the job is meant to end.
  if [ "${FG_TERM_RECEIVED:-0}" = 1 ]; then
    fg_log "stopped by SIGTERM (scancel, preemption or the time limit itself): not" \
      "requeueing; resubmit the same script to continue"
    return 1
  fi
  if [ "$n" -ge "$max" ]; then
    fg_log "restart limit reached ($n of FLOWGEN_MAX_RESTARTS=$max): not requeueing;" \
      "resubmit by hand to continue"
    return 1
  fi
  fg_log "unfinished; requeueing job $SLURM_JOB_ID (restart $((n + 1))), it resumes with --resume"
  scontrol requeue "$SLURM_JOB_ID" || { fg_log "scontrol requeue failed"; return 1; }
  return 0
}
