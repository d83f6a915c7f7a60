# checks.sh -- what the SLURM test scripts (run_test.sh, multinode_test.sh)
# share: Check-style counting and the queries of their cluster. Sourced, not
# run; set CHECK_TAG (the prefix of each line) and CHECK_SUITE (the name in
# the closing line, which scripts/test_summary.py adds up) first.
#
#   say MESSAGE...             one line, tagged
#   check WHAT COMMAND...      runs COMMAND, counts and reports it
#   abort WHAT                 counts a failure and exits 1 (the EXIT trap
#                              of the script then cleans up)
#   summary                    the closing "N%: Checks: .., Failures: .." line
#   wait_queue SECONDS         waits for the queue to empty (shows it if not)
#   has_line FILE PATTERN      grep -q
#   job_state JOBID            RUNNING, COMPLETED, CANCELLED, ...
#   same_groups A B PATH...    h5diff finds nothing between A and B in PATHs
#   same_data A B              the same for every dataset of an ensemble

checks=0 failures=0
say() { echo "$CHECK_TAG: $*"; }
check() {
  local what=$1
  shift
  checks=$((checks + 1))
  if "$@"; then
    say "ok    $what"
  else
    failures=$((failures + 1))
    say "FAIL  $what"
  fi
}
summary() {
  local pct=100
  [ $checks -gt 0 ] && pct=$(((checks - failures) * 100 / checks))
  echo "$CHECK_SUITE: ${pct}%: Checks: $checks, Failures: $failures, Errors: 0"
}
abort() {
  say "FAIL  $*"
  checks=$((checks + 1)) failures=$((failures + 1))
  exit 1
}

wait_queue() {
  local i
  for ((i = 0; i < $1; i++)); do
    [ -z "$(squeue -h -o %i 2>/dev/null)" ] && return 0
    sleep 1
  done
  say "queue after $1 s:"
  squeue -o "%i %j %T %r %E %N"
  return 1
}
has_line() { grep -q -- "$2" "$1" 2>/dev/null; }
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
same_groups() {
  local a=$1 b=$2 g
  shift 2
  for g in "$@"; do
    h5diff -q "$a" "$b" "$g" "$g" >/dev/null || { say "  $g differs"; return 1; }
  done
}
same_data() {
  same_groups "$1" "$2" /configs /proposals/logq /proposals/action /proposals/logw \
    /chain/index /chain/accepted
}
