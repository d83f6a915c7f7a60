# cluster.sh -- a throw-away SLURM cluster on this machine for
# tests/slurm/run_test.sh (one node) and tests/slurm/multinode_test.sh
# (several). Sourced, not run. Functions:
#
#   cluster_install
#     Installs Debian's munge, slurmctld, slurmd and slurm-client with
#     apt-get when any is missing. Returns non-zero when that fails.
#
#   cluster_start DIR [NODES]
#     Starts munged, slurmctld and slurmd for one node (this machine, all its
#     CPUs) -- or, with NODES >= 2, NODES nodes n1..nNODES, one slurmd each
#     (slurmd -N), each with all the machine's CPUs, its own address
#     127.0.0.(k+1), port, spool, log and TmpFS folder -- with every file
#     under DIR (an empty folder): a fresh munge key,
#     its socket, slurm.conf from tests/slurm/slurm.conf.in, state, spool,
#     logs and pid files, on free ports of our own, so a SLURM or munge
#     already on the machine is neither used nor disturbed. Exports
#     SLURM_CONF so that sbatch, squeue, scontrol and the jobs use this
#     cluster. Returns 0 once the node is idle, non-zero (with the daemons'
#     logs on stderr) when something did not start.
#
#   cluster_stop
#     Cancels every job of this cluster, waits for their processes to end,
#     stops slurmd, slurmctld and munged by the process ids they recorded,
#     and returns non-zero if anything of ours is still running after that.
#     Safe to call twice, and after a partial start.
#
#   cluster_logs
#     Prints the tails of the daemons' logs (for failure reports).
#
# State kept in CLUSTER_DIR, CLUSTER_NODES and CLUSTER_PIDS (the pids this
# file started).

CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_DIR=
CLUSTER_NODES=1
CLUSTER_PIDS=()

cluster_say() { echo "slurm-test: $*" >&2; }

cluster_install() {
  local need=() p
  for p in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  cluster_say "installing ${need[*]} with apt-get"
  local sudo=
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  # Package scripts may try to start the distribution's services; they use
  # the default ports and sockets, which our cluster does not, so that is
  # harmless either way.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${need[@]}" >/dev/null
}

# True when no socket on this machine listens on TCP port $1.
cluster_port_free() {
  local hex
  hex=$(printf '%04X' "$1")
  ! awk 'NR > 1 { split($2, a, ":"); if (a[2] == "'"$hex"'") found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A base port with base .. base+199 free (slurmctld, the slurmd of each
# node, srun's range).
cluster_pick_ports() {
  local base ok p
  for _ in $(seq 1 50); do
    base=$((20000 + (RANDOM % 400) * 100))
    ok=1
    for p in $base $(seq $((base + 1)) 2 $((base + 2 * CLUSTER_NODES - 1))) \
      $(seq $((base + 100)) 10 $((base + 199))); do
      cluster_port_free "$p" || { ok=0; break; }
    done
    [ $ok -eq 1 ] && { echo "$base"; return 0; }
  done
  return 1
}

# Waits up to $2 seconds for the pid file $1 and prints the pid it names.
cluster_pid_from_file() {
  local i
  for i in $(seq 1 $(($2 * 10))); do
    if [ -s "$1" ]; then
      local pid
      pid=$(tr -dc '0-9' <"$1")
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
        return 0
      fi
    fi
    sleep 0.1
  done
  return 1
}

cluster_start_munge() {
  local d=$CLUSTER_DIR/munge
  mkdir -p "$d" && chmod 755 "$CLUSTER_DIR" "$d" || return 1
  # munged insists on a private key and a socket folder everyone may enter.
  head -c 1024 /dev/urandom >"$d/munge.key" && chmod 400 "$d/munge.key" || return 1
  munged --socket="$d/munge.socket" --key-file="$d/munge.key" --pid-file="$d/munged.pid" \
    --log-file="$d/munged.log" --seed-file="$d/munged.seed" || return 1
  local pid
  pid=$(cluster_pid_from_file "$d/munged.pid" 10) || return 1
  CLUSTER_PIDS+=("$pid")
  munge -S "$d/munge.socket" -n </dev/null | unmunge -S "$d/munge.socket" >/dev/null
}

cluster_write_conf() {
  local base host
  base=$(cluster_pick_ports) || { cluster_say "no free ports found"; return 1; }
  host=$(hostname -s)
  sed -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$base|" -e "s|@SLURMD_PORT@|$((base + 1))|" \
    -e "s|@SRUN_PORTS@|$((base + 100))-$((base + 199))|" -e "s|@USER@|$(id -un)|" \
    -e "s|@STATE@|$CLUSTER_DIR|g" -e "s|@CPUS@|$(nproc)|" \
    "$CLUSTER_SRC/slurm.conf.in" >"$CLUSTER_DIR/slurm.conf"
  [ "$CLUSTER_NODES" -ge 2 ] && cluster_conf_nodes "$base"
  return 0
}

# Several slurmd on one machine (slurm.conf's per-node Port, slurmd -N):
# every per-node file carries the node name (%n), and so does TmpFS, where
# srun's PMIx plugin makes each node's client folder (two "nodes" sharing
# /tmp would both make /tmp/spmix_appdir_<uid>_<job>.<step> and the second
# fails: "File exists"). Node k listens on base + 2k - 1 of every address;
# its NodeAddr 127.0.0.(k+1) names it apart.
cluster_conf_nodes() {
  local base=$1 k names=
  sed -i -e '/^NodeName=/d' -e '/^PartitionName=/d' \
    -e "s|^SlurmdPidFile=.*|SlurmdPidFile=$CLUSTER_DIR/slurmd-%n.pid|" \
    -e "s|^SlurmdSpoolDir=.*|SlurmdSpoolDir=$CLUSTER_DIR/spool/%n|" \
    -e "s|^SlurmdLogFile=.*|SlurmdLogFile=$CLUSTER_DIR/slurmd-%n.log|" "$CLUSTER_DIR/slurm.conf"
  {
    echo "TmpFS=$CLUSTER_DIR/tmpfs/%n"
    for k in $(seq 1 "$CLUSTER_NODES"); do
      mkdir -p "$CLUSTER_DIR/spool/n$k" "$CLUSTER_DIR/tmpfs/n$k"
      echo "NodeName=n$k NodeAddr=127.0.0.$((k + 1)) Port=$((base + 2 * k - 1)) CPUs=$(nproc) State=UNKNOWN"
      names=$names${names:+,}n$k
    done
    echo "PartitionName=test Nodes=$names Default=YES MaxTime=INFINITE State=UP"
  } >>"$CLUSTER_DIR/slurm.conf"
}

# Waits up to $1 seconds for every node to be idle.
cluster_wait_idle() {
  local i state
  for i in $(seq 1 "$1"); do
    state=$(sinfo -h -N -o %T 2>/dev/null | sort -u | tr '\n' ' ')
    [ "$state" = "idle " ] && [ "$(sinfo -h -N -o %N | wc -l)" -eq "$CLUSTER_NODES" ] && return 0
    sleep 1
  done
  cluster_say "node state after $1 s: '${state:-none}'"
  return 1
}

# Starts the slurmd of node $1 ("" for the one-node cluster) and records its pid.
cluster_start_slurmd() {
  local pidfile=$CLUSTER_DIR/slurmd.pid args=()
  [ -n "$1" ] && pidfile=$CLUSTER_DIR/slurmd-$1.pid args=(-N "$1")
  slurmd -f "$SLURM_CONF" "${args[@]}" || { cluster_say "slurmd $1 failed"; return 1; }
  local pid
  pid=$(cluster_pid_from_file "$pidfile" 20) || { cluster_say "slurmd $1 did not start"; return 1; }
  CLUSTER_PIDS+=("$pid")
}

cluster_start() {
  CLUSTER_DIR=$1
  CLUSTER_NODES=${2:-1}
  CLUSTER_PIDS=()
  if [ "$(id -u)" -ne 0 ]; then
    cluster_say "slurmd must run as root (this test starts its own node daemon)"
    return 1
  fi
  mkdir -p "$CLUSTER_DIR/ctld" "$CLUSTER_DIR/spool" || return 1
  cluster_start_munge || { cluster_say "munged did not start"; cluster_logs; return 1; }
  cluster_write_conf || return 1
  export SLURM_CONF=$CLUSTER_DIR/slurm.conf
  # Both daemonise and record their pids; -c: no state from earlier runs.
  slurmctld -c -f "$SLURM_CONF" || { cluster_say "slurmctld failed"; cluster_logs; return 1; }
  local pid
  pid=$(cluster_pid_from_file "$CLUSTER_DIR/slurmctld.pid" 20) ||
    { cluster_say "slurmctld did not start"; cluster_logs; return 1; }
  CLUSTER_PIDS+=("$pid")
  if [ "$CLUSTER_NODES" -ge 2 ]; then
    local k
    for k in $(seq 1 "$CLUSTER_NODES"); do
      cluster_start_slurmd "n$k" || { cluster_logs; return 1; }
    done
  else
    cluster_start_slurmd "" || { cluster_logs; return 1; }
  fi
  cluster_wait_idle 60 || { cluster_say "the node did not come up"; cluster_logs; return 1; }
}

cluster_logs() {
  local f
  for f in "$CLUSTER_DIR/munge/munged.log" "$CLUSTER_DIR/slurmctld.log" "$CLUSTER_DIR"/slurmd*.log; do
    [ -f "$f" ] && { echo "---- tail of $f" >&2; tail -n 25 "$f" >&2; }
  done
  return 0
}

# Pids of processes (job steps, their children) working in our folder: their
# command line, working directory or an open file names it.
cluster_leftovers() {
  local p f
  [ -n "$CLUSTER_DIR" ] || return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "$CLUSTER_DIR"; then
      echo "$p"
      continue
    fi
    for f in "/proc/$p/cwd" "/proc/$p"/fd/*; do
      case $(readlink "$f" 2>/dev/null) in
        "$CLUSTER_DIR" | "$CLUSTER_DIR"/*) echo "$p"; break ;;
      esac
    done
  done
}

# Sends TERM to pid $1, waits up to $2 seconds, then KILL.
cluster_end_pid() {
  local i
  kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null
  for i in $(seq 1 $(($2 * 10))); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  cluster_say "pid $1 ignored SIGTERM; killing it"
  kill -KILL "$1" 2>/dev/null
  sleep 0.2
}

cluster_stop() {
  [ -n "$CLUSTER_DIR" ] || return 0
  local i status=0
  if [ -n "${SLURM_CONF:-}" ] && [ ${#CLUSTER_PIDS[@]} -ge 3 ]; then
    scancel --user="$(id -un)" 2>/dev/null
    for i in $(seq 1 30); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 1
    done
  fi
  # The daemons in reverse order of start: slurmd, slurmctld, munged.
  for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
    cluster_end_pid "${CLUSTER_PIDS[$i]}" 15
  done
  CLUSTER_PIDS=()
  # Job steps outlive slurmd by design; ours must not outlive the test.
  local left p
  left=$(cluster_leftovers)
  for p in $left; do
    cluster_say "stopping leftover process $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"
    cluster_end_pid "$p" 5
  done
  left=$(cluster_leftovers)
  if [ -n "$left" ]; then
    cluster_say "still running after stop: $left"
    status=1
  fi
  return $status
}
