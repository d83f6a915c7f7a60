#!/bin/bash
# The jobs/ scripts across nodes of a real SLURM cluster (issue 15): sampling with the coordinator on one node and workers on two others gives the one-rank chain bit for bit, 2-node data-parallel training the weights of a 2-rank mpirun, the benchmark mode across nodes the one-rank chain.
# shellcheck disable=SC2317  # finish runs from the EXIT trap
#
# multinode_test.sh -- meson test 'slurm_multinode' (suite slurm). It
# installs munge and SLURM when missing (tests/slurm/cluster.sh), starts a
# cluster of three nodes n1, n2, n3 on this machine -- one slurmd each
# (slurmd -N), on 127.0.0.2..4 with ports of their own -- and:
#   1. submits jobs/train.sbatch on 2 nodes, one rank each (srun
#      --mpi=pmix), and compares weights and optimizer state with a 2-rank
#      mpirun training of the same config;
#   2. submits jobs/sample.sbatch on 3 nodes, one rank each: rank 0 (the
#      coordinator) on n1, the workers on n2 and n3, as the job's "task
#      layout" line shows; the ensemble must equal a one-rank run's;
#   3. runs bench/bench_service (the benchmark mode) with srun on the 3
#      nodes, 2 ranks per worker node: the chain of one rank, verified.
# It stops every daemon and job process it started, by process id, and
# removes its folder. Environment: FLOWGEN_BIN, FLOWGEN_SOURCE_ROOT and
# FLOWGEN_BENCH_SERVICE (set by meson).
set -uo pipefail
src=${FLOWGEN_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${FLOWGEN_BIN:-$src/build/flowgen}
bench=${FLOWGEN_BENCH_SERVICE:-$(dirname "$bin")/bench/bench_service}
. "$src/tests/slurm/cluster.sh"

CHECK_TAG=slurm-multinode CHECK_SUITE=slurm_multinode
. "$src/tests/slurm/checks.sh"

tmp=
finish() {
  local rc=$?
  cd /
  if [ -n "$tmp" ]; then
    if [ $failures -gt 0 ]; then
      cluster_logs
      local f
      for f in "$tmp"/work/*.log; do
        [ -f "$f" ] && { echo "---- tail of $f"; tail -n 15 "$f"; }
      done
    fi
    cluster_stop
    check "every daemon and job process stopped" test $? -eq 0
    rm -rf "$tmp"
  fi
  summary
  [ $rc -eq 0 ] && [ $failures -eq 0 ] && exit 0
  exit 1
}
trap finish EXIT
trap 'say "interrupted"; exit 1' INT TERM

[ -x "$bin" ] || abort "no flowgen program at $bin"
command -v h5diff >/dev/null || abort "h5diff missing (Debian hdf5-tools)"
cluster_install || abort "could not install munge and SLURM with apt-get"
tmp=$(mktemp -d /tmp/flowgen-slurm-multi.XXXXXX) || abort "mktemp"
t_start=$(date +%s)
cluster_start "$tmp" 3 || abort "the 3-node SLURM cluster did not start on this machine (logs above)"
say "cluster up in $(($(date +%s) - t_start)) s: $(sinfo -h -N -o '%N(%c CPUs, %T)' | tr '\n' ' ')"
check "3 nodes, each with its own slurmd" test "$(sinfo -h -N -o %N | sort | tr '\n' ' ')" = "n1 n2 n3 "

work=$tmp/work
mkdir -p "$work"
cd "$work" || abort "cd $work"
export FLOWGEN=$bin FLOWGEN_ROOT=$src OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# tiny DIR: a 6x6 flow that trains in seconds, its files under DIR/
tiny() {
  cat <<EOF
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
  steps: 40
  batch_size: 32
  checkpoint: $1/model.h5
  log: $1/train.csv
  checkpoint_every: 20
  eval_samples: 256
sample:
  model: $1/model.h5
  proposals: 6000
  batch_size: 100
  flush_every: 1000
  output: $1/ensemble.h5
EOF
}
mkdir -p multi reference
tiny multi >multi.yaml
tiny reference >reference.yaml

# ---- 1. data-parallel training on 2 nodes --------------------------------
t1=$(date +%s)
train_job=$(sbatch --parsable --nodes=2 --ntasks=2 --ntasks-per-node=1 --time=5 \
  --job-name=fg-train2 --output="$work/train-%j.log" "$src/jobs/train.sbatch" multi.yaml) ||
  abort "sbatch train failed"
mpirun --oversubscribe -n 2 "$bin" train reference.yaml >reference-train.out 2>&1 ||
  abort "the 2-rank mpirun training failed"
check "2-node training job finished" wait_queue 120
log=train-$train_job.log
check "training job COMPLETED" test "$(job_state "$train_job")" = COMPLETED
check "training ran one rank on each of n1 and n2" has_line "$log" "task layout (rank=node) on 2 nodes: 0=n1 1=n2"
check "training launched with srun --mpi=pmix" has_line "$log" "running: srun --mpi=pmix"
check "2 nodes trained as one MPI job: weights and optimizer state of a 2-rank mpirun, bit for bit" \
  same_groups multi/model.h5 reference/model.h5 /model /optimizer
check "the same training log (step .. N_train, gradient norm)" \
  cmp -s <(cut -d, -f1-7,9 multi/train.csv) <(cut -d, -f1-7,9 reference/train.csv)
say "training: $(($(date +%s) - t1)) s"

# ---- 2. sampling: coordinator on n1, workers on n2 and n3 -----------------
t2=$(date +%s)
sample_job=$(sbatch --parsable --nodes=3 --ntasks=3 --ntasks-per-node=1 --time=5 \
  --job-name=fg-sample3 --output="$work/sample-%j.log" "$src/jobs/sample.sbatch" multi.yaml) ||
  abort "sbatch sample failed"
"$bin" sample reference.yaml >reference-sample.out 2>&1 || abort "the one-rank sampling run failed"
check "3-node sampling job finished" wait_queue 120
log=sample-$sample_job.log
check "sampling job COMPLETED" test "$(job_state "$sample_job")" = COMPLETED
check "coordinator (rank 0) alone on n1, workers on n2 and n3" \
  has_line "$log" "task layout (rank=node) on 3 nodes: 0=n1 1=n2 2=n3"
check "sampling done" has_line "$log" "sampling done"
check "the ensemble records 3 ranks" has_line <("$bin" info multi/ensemble.h5 2>/dev/null) "^  ranks  *3$"
check "the same proposals and chain as one rank, bit for bit" \
  same_data multi/ensemble.h5 reference/ensemble.h5
say "sampling: $(($(date +%s) - t2)) s"

# ---- 3. the benchmark mode across nodes ----------------------------------
if [ -x "$bench" ]; then
  sed 's|ensemble.h5|bench.h5|' multi.yaml >bench.yaml
  # rank 0 on n1; ranks 1, 2 on n2 and 3, 4 on n3. Two "nodes" of one
  # machine share /dev/shm, where Open MPI's shared-memory transport names
  # its segments by host name and local rank: local rank 0 of n2 and of n3
  # would map one segment (a crash in the first collective). So this step
  # talks TCP only, as real nodes do between them; and as SLURM does not
  # tell Open MPI that 5 ranks share 2 cores, waiting ranks must yield.
  printf 'n1\nn2\nn2\nn3\nn3\n' >hostfile
  OMPI_MCA_btl=self,tcp OMPI_MCA_mpi_yield_when_idle=1 \
    SLURM_HOSTFILE=$work/hostfile timeout 120 srun --mpi=pmix --nodes=3 --ntasks=5 \
    --distribution=arbitrary --time=3 "$bench" bench.yaml --verify >bench.json 2>bench.err
  rc=$?
  [ $rc -eq 0 ] || tail -n 20 bench.err
  check "benchmark mode on 3 nodes (1 + 2 + 2 ranks) ran" test $rc -eq 0
  cat bench.json
  check "its chain is the serial chain of the same log-weights, the rows in place" \
    grep -q '"verified_against_serial_chain_and_file": true' bench.json
  check "4 workers" grep -q '"workers": 4' bench.json
else
  say "no bench_service at $bench: step 3 skipped"
fi
say "total $(($(date +%s) - t_start)) s"
exit 0
