#!/usr/bin/env bash
# Reliability of sample, hmc and their files (issue 13), through the CLI:
# a flipped byte in /configs is found and its row named by verify, info and
# analyze; an output is owned by one run (a second writer is refused naming
# the holder, a lock left by a killed run is taken over); hmc never throws
# away an interrupted .tmp unless told to (--overwrite); sizes the file
# system cannot hold are refused up front (no crash); --resume and
# --overwrite exclude each other.
#   sample.sh FLOWGEN        (prints a Check-style summary line)
set -uo pipefail
fg=$1
work=$(mktemp -d -t flowgen-reliability.XXXXXX)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
checks=0 failures=0
check() {  # check "what" command...
  checks=$((checks + 1))
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
# runs FLOWGEN ARGS, records exit status in $rc and stderr in $work/err
run() { "$fg" "$@" >"$work/out" 2>"$work/err"; rc=$?; }
says() { grep -q -- "$1" "$work/err"; }
exit_is() { [ "$rc" = "$1" ] || { echo "  exit $rc, wanted $1:"; head -3 "$work/err"; return 1; }; }

cfg() {  # cfg FILE TRAJECTORIES PROPOSALS
  cat > "$1" <<YAML
seed: 11
theory: {name: phi4, lattice: [4, 4], m2: -1.0, lambda: 1.0}
model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [4]}
train: {steps: 20, batch_size: 16, checkpoint: model.h5, eval_samples: 64}
sample: {model: model.h5, proposals: $3, batch_size: 32, flush_every: 256, output: ensemble.h5}
hmc: {trajectories: $2, thermalization: 20, md_steps: 4, checkpoint_every: 50, output: hmc.h5}
YAML
}
cd "$work" || exit 1
cfg small.yaml 200 2000
cfg long.yaml 100000000 2000
cfg huge.yaml 100000000000000 1000000000000000

# --- row checksums and recomputed actions
run train small.yaml; check "train ran" exit_is 0
run sample small.yaml; check "sample ran" exit_is 0
run verify ensemble.h5; check "verify passes an intact ensemble" exit_is 0
run info ensemble.h5; check "info says every row matches its checksum" grep -q "all rows match" out
# flip one byte of row 7 of /configs (contiguous storage at the address h5ls gives)
addr=$(h5ls -va ensemble.h5/configs | awk '$1 == "Address:" {print $2}')
cp ensemble.h5 flipped.h5
off=$((addr + 7 * 16 * 8 + 5))
byte=$(od -An -tu1 -j "$off" -N1 flipped.h5 | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 16)))" | dd of=flipped.h5 bs=1 seek="$off" conv=notrunc 2>/dev/null
run verify flipped.h5
check "verify refuses a flipped byte, exit 2" exit_is 2
check "verify names the damaged row" says "row 7 is damaged"
run info flipped.h5; check "info refuses it too" exit_is 2
run analyze flipped.h5; check "analyze refuses it too" exit_is 2

# --- one writer per output (D02), no silent discard (D06)
"$fg" hmc long.yaml >/dev/null 2>"$work/bg.err" & bg=$!
for i in $(seq 200); do [ -s hmc.h5.lock ] && [ -e hmc.h5.tmp ] && break; sleep 0.05; done
run hmc long.yaml --resume
check "a second writer is refused, exit 2" exit_is 2
check "the refusal names the holder's pid" says "pid $bg"
kill -9 "$bg"; wait "$bg" 2>/dev/null; bg=
run hmc long.yaml
check "hmc without --resume keeps an interrupted .tmp (exit 2)" exit_is 2
check "and says how to continue or start over" says "with --overwrite"
check "the killed run's stale lock is taken over, and said so" says "stale lock"
check "the .tmp is still there" test -e hmc.h5.tmp
run hmc long.yaml --resume --overwrite; check "--resume with --overwrite is refused" exit_is 2
run hmc small.yaml --overwrite
check "--overwrite starts over" exit_is 0
check "the finished output is there, no lock left" test -e hmc.h5 -a ! -e hmc.h5.lock -a ! -e hmc.h5.tmp
run verify hmc.h5; check "the hmc ensemble verifies" exit_is 0

# --- sizes the file system cannot hold (D10)
rm -f ensemble.h5
run sample huge.yaml
check "a huge sample.proposals is refused, exit 2" exit_is 2
check "naming the key" says "sample.proposals"
check "leaving no .tmp" test ! -e ensemble.h5.tmp
rm -f hmc.h5
run hmc huge.yaml
check "a huge hmc.trajectories is refused, exit 2" exit_is 2
check "naming the key" says "hmc.trajectories"

echo "100%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
