#!/bin/bash
# The jobs/ scripts work on a real SLURM: pipeline, sweep and HMC-stream dependencies, requeue at the time limit, same chain as an uninterrupted run.
# shellcheck disable=SC2317  # finish and summary run from the EXIT trap
#
# run_test.sh -- the 'slurm' test suite (tests/meson.build). It installs
# Debian's munge and SLURM when missing, starts munged, slurmctld and slurmd
# for a one-node cluster on this machine (tests/slurm/cluster.sh), and:
#   0. sizes a sampling run of a wide (slow) flow to outlast SLURM's first
#      warning, and starts its uninterrupted one-rank twin in the background,
#      with that of the training of step 3;
#   1. submits jobs/pipeline.sh --hmc on a tiny 6x6 config (train on 2 srun
#      ranks, sample on 2, HMC as 2 streams launched by mpirun, analyses,
#      compare), jobs/sweep.sh over theory.lambda (transfer training,
#      sampling by aftercorr), a sweep whose middle point is invalid (the
#      points after it must be cancelled, not trained from nothing), and
#      jobs/hmc_streams.sh; it checks every file with flowgen info/analyze;
#   2. scancels a sampling job: flowgen must flush, the job must not requeue
#      itself, and submitting the script again must finish the .tmp;
#   3. sends a training job the warning by hand (scancel --signal=USR1
#      --batch): it must checkpoint, requeue itself, resume and end with the
#      weights, optimizer state and log of an uninterrupted training;
#   4. submits jobs/sample.sbatch with --time=1 --signal=B:USR1@30 and checks
#      that it was signalled, flushed, requeued (SLURM_RESTART_COUNT >= 1 in
#      the log), resumed and finished with the same file, bit for bit
#      (h5diff), as the uninterrupted run.
# It stops every daemon and job process it started, by process id, and
# removes its folder (trap EXIT). Daemons that do not start are a failure.
# The closing line counts the checks in Check's format, which
# scripts/test_summary.py adds up. Environment: FLOWGEN_BIN (the program),
# FLOWGEN_SOURCE_ROOT (the checkout), both set by meson.
set -uo pipefail
src=${FLOWGEN_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${FLOWGEN_BIN:-$src/build/flowgen}
. "$src/tests/slurm/cluster.sh"

CHECK_TAG=slurm-test CHECK_SUITE=slurm
. "$src/tests/slurm/checks.sh"

tmp=
ref_pid=
train_ref_pid=
finish() {
  local rc=$?
  cd /
  local p
  for p in $ref_pid $train_ref_pid; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  if [ -n "$tmp" ]; then
    if [ $failures -gt 0 ]; then
      cluster_logs
      local f
      for f in $(find "$tmp/work" -name '*.log' 2>/dev/null | sort); do
        echo "---- tail of $f"
        grep -v '^proposals\|^trajectories\|^train step' "$f" | tail -n 15
      done
    fi
    cluster_stop
    check "every daemon and job process stopped" test $? -eq 0
    rm -rf "$tmp"
    check "temporary folder removed" test ! -e "$tmp"
  fi
  summary
  [ $rc -eq 0 ] && [ $failures -eq 0 ] && exit 0
  exit 1
}
trap finish EXIT
trap 'say "interrupted"; exit 1' INT TERM

[ -x "$bin" ] || abort "no flowgen program at $bin"
command -v h5diff >/dev/null || abort "h5diff missing (Debian hdf5-tools, installed by scripts/setup.sh)"
cluster_install || abort "could not install munge and SLURM with apt-get"
tmp=$(mktemp -d /tmp/flowgen-slurm.XXXXXX) || abort "mktemp"
t_start=$(date +%s)
cluster_start "$tmp" || abort "the SLURM daemons did not start on this machine (logs above)"
say "cluster up in $(($(date +%s) - t_start)) s: $(sinfo -h -N -o '%N %c CPUs %T')"

work=$tmp/work
mkdir -p "$work"
cd "$work" || abort "cd $work"
# What the jobs inherit (sbatch passes the environment on). Leak checking
# is the other suites' job: srun's PMIx start-up allocates what
# tests/lsan.supp does not know.
export FLOWGEN=$bin FLOWGEN_ROOT=$src OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# ---- helpers ---------------------------------------------------------------

json_number() { sed -n "s/.*\"$2\": \([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }
stop_reason() { "$bin" info "$1" --json 2>/dev/null | sed -n 's/.*"stop_reason": "\([a-z_]*\)".*/\1/p'; }
n_chain() { "$bin" analyze "$1" --json 2>/dev/null | sed -n 's/.*"n_chain": \([0-9]*\).*/\1/p'; }
# wait_for SECONDS COMMAND...: polls COMMAND every second until it succeeds.
wait_for() {
  local i
  for ((i = 0; i < $1; i++)); do
    "${@:2}" && return 0
    sleep 1
  done
  return 1
}
# True when time stamp $1 is not before $2 (both "YYYY-MM-DD HH:MM:SS").
not_before() { [ -n "$1" ] && [ -n "$2" ] && ! [[ $1 < $2 ]]; }
# h5diff: 0 same, 1 different, 2 error.
differ() {
  h5diff -q "$1" "$2" "$3" "$3" >/dev/null 2>&1
  [ $? -eq 1 ]
}
rows_over() { [ "$(wc -l 2>/dev/null <"$1" || echo 0)" -gt "$2" ]; }

write_tiny() {
  cat >tiny.yaml <<'EOF'
# tests/slurm: a 6x6 phi^4 flow that trains in a second.
seed: 42
theory:
  name: phi4
  lattice: [6, 6]
  m2: -4.0
  lambda: 2.0
model:
  coupling_layers: 4
  kernel_size: 3
  hidden_channels: [4]
train:
  steps: 30
  batch_size: 32
  checkpoint: out/model.h5
  log: out/train.csv
  checkpoint_every: 10
  eval_samples: 256
sample:
  model: out/model.h5
  proposals: 4096
  batch_size: 128
  flush_every: 1024
  output: out/ensemble.h5
hmc:
  trajectories: 400
  thermalization: 50
  md_steps: 10
  checkpoint_every: 100
  output: out/hmc.h5
EOF
}

# A wide flow is slow per proposal but small on disk; untrained is enough.
heavy() {
  cat <<EOF
seed: 7
theory:
  name: phi4
  lattice: [6, 6]
  m2: -4.0
  lambda: 2.0
model:
  coupling_layers: 12
  kernel_size: 3
  hidden_channels: [64, 64]
train:
  steps: 0
  batch_size: 16
  checkpoint: heavy/model.h5
  eval_samples: 64
sample:
  model: heavy/model.h5
  proposals: $1
  batch_size: 32
  flush_every: 256
  output: heavy/$2.h5
EOF
}

# ---- 0. the run for the time limit, and its uninterrupted twin ------------

# The time-limited job must still run when SLURM's warning comes. SLURM
# checks limits every 30 s and sends the warning at the first check that
# finds less than N + 30 s left, so USR1@30 of a 1-minute job arrives at
# the first check after the start: within 30 s. Calibrated on 2 ranks (the
# faster of two tries, so that a passing load cannot make the run too
# short), 60 s of proposals outlast that.
mkdir -p heavy
# Seconds per proposal of a sampling run of $1 proposals on 2 ranks.
calibrate() {
  heavy "$1" calibrate >calibrate.yaml
  rm -f heavy/calibrate.h5
  mpirun -n 2 "$bin" sample calibrate.yaml --json >calibrate.json 2>/dev/null &&
    json_number calibrate.json samp_s_per_config
}
heavy 256 calibrate >calibrate.yaml
"$bin" train calibrate.yaml >/dev/null 2>&1 || abort "could not initialise the wide flow"
per=$(calibrate 256) || abort "calibration run failed"
# Then runs of some 3 s, where the start-up no longer counts.
n=$(awk -v p="$per" 'BEGIN { n = int(3 / p / 32 + 1) * 32; print (n < 256 ? 256 : n) }')
per=
for _ in 1 2; do
  p=$(calibrate "$n") || abort "calibration run failed"
  per=$(awk -v a="$p" -v b="${per:-$p}" 'BEGIN { print (a < b ? a : b) }')
done
proposals=$(awk -v p="$per" 'BEGIN { n = int(60 / p / 32 + 1) * 32; if (n < 1024) n = 1024;
  if (n > 200000) n = 200000; print n }')
say "calibration: $per s per proposal on 2 ranks ($n per run) -> $proposals proposals"
heavy "$proposals" limit >limit.yaml
heavy "$proposals" reference >reference.yaml
# The uninterrupted run, one rank, on what CPU the jobs leave meanwhile.
nice -n 10 "$bin" sample reference.yaml >reference.out 2>&1 &
ref_pid=$!
# A training long enough to be stopped by hand, and its uninterrupted twin
# (on 2 ranks too: training is reproducible for a given rank count).
long() {
  cat <<EOF
seed: 9
theory:
  name: phi4
  lattice: [6, 6]
  m2: -4.0
  lambda: 2.0
model:
  coupling_layers: 4
  kernel_size: 3
  hidden_channels: [8, 8]
train:
  steps: 6000
  batch_size: 16
  checkpoint: $1/model.h5
  log: $1/train.csv
  checkpoint_every: 1000
  eval_samples: 64
EOF
}
mkdir -p long long_reference
long long >long.yaml
long long_reference >long_reference.yaml
nice -n 10 mpirun -n 2 "$bin" train long_reference.yaml >long_reference.out 2>&1 &
train_ref_pid=$!

# ---- 1. pipeline, sweeps, HMC streams ------------------------------------

write_tiny
export TRAIN_SBATCH_ARGS="--ntasks=2 --time=5" SAMPLE_SBATCH_ARGS="--ntasks=2 --time=5"
export ANALYZE_SBATCH_ARGS="--time=5"
# HMC as 2 streams under mpirun: the launcher the scripts fall back to.
export HMC_SBATCH_ARGS="--ntasks=2 --time=5 --export=ALL,FLOWGEN_LAUNCHER=mpirun"
t1=$(date +%s)
bash "$src/jobs/pipeline.sh" --hmc tiny.yaml >pipeline.jobs || abort "pipeline.sh failed"
export HMC_SBATCH_ARGS="--ntasks=1 --time=5"
bash "$src/jobs/sweep.sh" --sample --out sweep tiny.yaml theory.lambda 2.0 1.8 >sweep.jobs ||
  abort "sweep.sh failed"
bash "$src/jobs/sweep.sh" --sample --out badsweep tiny.yaml theory.lambda 2.0 -1.0 1.8 >badsweep.jobs ||
  abort "sweep.sh (invalid point) failed"
bash "$src/jobs/hmc_streams.sh" --analyze --out streams tiny.yaml 2 >streams.jobs ||
  abort "hmc_streams.sh failed"
check "pipeline, sweeps and streams finished within 240 s" wait_queue 240
say "pipeline, sweeps and streams took $(($(date +%s) - t1)) s"

logs=out/logs
train_log=$(ls $logs/fg-train-tiny-*.log 2>/dev/null | head -n 1)
check "train job logged job id, restart count and 2 srun tasks" \
  has_line "$train_log" "restart count 0 on .*: 2 task(s) x 1 cpu(s).*launcher srun"
check "training finished (stop reason steps)" test "$(stop_reason out/model.h5)" = steps
check "the 2 srun ranks trained as one MPI job (N_train = 30 x 32 x 2)" \
  test "$("$bin" info out/model.h5 --json | json_number /dev/stdin n_train)" = 1920
check "ensemble complete: 4096 chain steps" test "$(n_chain out/ensemble.h5)" = 4096
check "the ensemble was drawn by 2 ranks" \
  has_line <("$bin" info out/ensemble.h5 2>/dev/null) "^  ranks  *2$"
check "analysis JSON written by the analyze job" test -s out/ensemble.h5.analysis.json
check "HMC job ran 2 streams through mpirun" \
  has_line "$(ls $logs/fg-hmc-tiny-*.log | head -n 1)" "2 task(s) x 1 cpu(s).*launcher mpirun"
check "HMC stream files complete (400 trajectories each)" \
  test "$(n_chain out/hmc_rank0.h5)/$(n_chain out/hmc_rank1.h5)" = 400/400
check "HMC streams analysed" test -s out/hmc_rank1.h5.analysis.json
check "flow and HMC compared" test -s out/ensemble.h5.compare.json

check "sweep point 1 trains from point 0's checkpoint" \
  has_line sweep/point1.yaml "init_from: $work/sweep/point0/model.h5"
check "sweep points trained, sampled and analysed" \
  test "$(stop_reason sweep/point1/model.h5)/$(n_chain sweep/point1/ensemble.h5)" = steps/4096
p0_end=$(sed -n 's/^\[flowgen-job [0-9]* restart 0 \([-0-9 :]*\)\] training done.*/\1/p' \
  sweep/logs/fg-sweep-train-tiny-*_0.log)
p1_start=$(sed -n 's/^\[flowgen-job [0-9]* restart 0 \([-0-9 :]*\)\] train: job.*/\1/p' \
  sweep/logs/fg-sweep-train-tiny-*_1.log)
check "sweep point 1 started after point 0 finished ($p0_end <= $p1_start)" \
  not_before "$p1_start" "$p0_end"
bad_train=$(sed -n 's/^train //p' badsweep.jobs)
check "invalid sweep point 1 failed" test "$(job_state "${bad_train}_1")" = FAILED
check "the sweep point after it was cancelled, never trained" \
  test "$(job_state "${bad_train}_2")" = CANCELLED -a ! -e badsweep/point2/model.h5
check "HMC streams complete, analysed, with different seeds" \
  test "$(n_chain streams/stream0.h5)/$(n_chain streams/stream1.h5)" = 400/400 \
  -a -s streams/stream1.h5.analysis.json
check "HMC streams differ" differ streams/stream0.h5 streams/stream1.h5 /configs

# ---- 2. scancel: flush, no requeue, resubmission continues ----------------

cancelled=$(((proposals / 5 + 31) / 32 * 32))
heavy "$cancelled" cancel >cancel.yaml
submit_cancel() {
  sbatch --parsable --ntasks=2 --time=5 --job-name=fg-cancel --output="$work/cancel-%j.log" \
    "$src/jobs/sample.sbatch" cancel.yaml
}
cancel_job=$(submit_cancel) || abort "sbatch failed"
check "cancel test: flowgen started" wait_for 60 has_line "cancel-$cancel_job.log" "running: "
sleep 4
scancel "$cancel_job"
check "cancelled job left the queue" wait_queue 60
check "cancelled job is CANCELLED, not requeued" test "$(job_state "$cancel_job")" = CANCELLED
check "cancelled job flushed its .tmp and said it does not requeue" \
  test -e heavy/cancel.h5.tmp -a ! -e heavy/cancel.h5 -a \
  "$(grep -c "not requeueing" "cancel-$cancel_job.log")" = 1
resumed_job=$(submit_cancel) || abort "sbatch failed"
check "resubmitted job finished" wait_queue 120
check "resubmitted job continued the .tmp" \
  has_line "cancel-$resumed_job.log" "cancel.h5.tmp exists: continuing it"
check "resubmitted job completed the ensemble" test "$(n_chain heavy/cancel.h5)" = "$cancelled"

# ---- 3. a warning by hand to a training job: checkpoint, requeue, resume ---

warn_job=$(sbatch --parsable --ntasks=2 --time=5 --job-name=fg-warn \
  --output="$work/warn-%j.log" "$src/jobs/train.sbatch" long.yaml) || abort "sbatch failed"
check "training under way (200 steps logged)" wait_for 120 rows_over long/train.csv 200
scancel --signal=USR1 --batch "$warn_job"
check "training job finished" wait_queue 180
wait "$train_ref_pid"
train_ref_rc=$?
train_ref_pid=
log=warn-$warn_job.log
check "uninterrupted training succeeded" test $train_ref_rc -eq 0
check "training stopped at a step with a checkpoint on the warning" \
  has_line "$log" "stopped by signal at step"
check "training job requeued itself and resumed the checkpoint" \
  has_line "$log" "restart 1 .*] checkpoint .* exists: continuing it"
check "training job ended with training done" has_line "$log" "training done (steps)"
check "same weights and optimizer state as the uninterrupted training, bit for bit" \
  same_groups long/model.h5 long_reference/model.h5 /model /optimizer
check "same training log (step, batch, lr, loss, ESS, N_train, gradient norm)" \
  cmp -s <(cut -d, -f1-7,9 long/train.csv) <(cut -d, -f1-7,9 long_reference/train.csv)

# ---- 4. the time limit: warning, flush, requeue, resume --------------------

t3=$(date +%s)
limit_job=$(sbatch --parsable --ntasks=2 --time=1 --signal=B:USR1@30 --job-name=fg-limit \
  --output="$work/limit-%j.log" "$src/jobs/sample.sbatch" limit.yaml) || abort "sbatch failed"
log=limit-$limit_job.log
# A flush and a requeue (a warning that comes before flowgen started
# requeues without a flush; the next run then gets its own warning).
flushed_and_requeued() {
  has_line "$log" "stopped by signal after" && has_line "$log" "requeueing job $limit_job"
}
check "time-limited job flushed on SLURM's warning and requeued itself" \
  wait_for 150 flushed_and_requeued
# Seen that: let the next run finish in one go rather than be cut every 30 s.
# It waits ~10 s for eligibility, time enough to update it.
scontrol update JobId="$limit_job" TimeLimit=10 ||
  say "could not raise the time limit; the job will requeue until done"
check "time-limited job finished within 300 s" wait_queue 300
say "time-limited job took $(($(date +%s) - t3)) s"
wait "$ref_pid"
ref_rc=$?
ref_pid=
check "uninterrupted reference run succeeded" test $ref_rc -eq 0
check "job got USR1 from SLURM before the time limit" has_line "$log" "received SIGUSR1"
check "flowgen flushed its state on the signal" has_line "$log" "stopped by signal after"
check "requeued job logged SLURM_RESTART_COUNT >= 1" has_line "$log" "restart count [1-9]"
check "requeued job resumed the .tmp" has_line "$log" "limit.h5.tmp exists: continuing it"
check "job ended with sampling done" has_line "$log" "sampling done"
check "no .tmp left" test ! -e heavy/limit.h5.tmp
check "interrupted run has all $proposals steps" test "$(n_chain heavy/limit.h5)" = "$proposals"
check "same proposals and chain as the uninterrupted run, bit for bit" \
  same_data heavy/limit.h5 heavy/reference.h5
say "stops: $(grep -h 'stopped by signal after' "$log" | sed 's/;.*//' | tr '\n' ' ')"
say "requeues: $(grep -c 'requeueing job' "$log"); total $(($(date +%s) - t_start)) s"
exit 0
