#!/usr/bin/env bash
# Reliability of the built program on the training side (issue 13): what a
# user who breaks things gets. Each check names its defect:
#   D05 train refuses an earlier run's files without --resume/--overwrite
#   D08 unwritable outputs (train, sample, hmc) refused before any work
#   D03 a diverging training exits 1 naming the step; stop handlers early
#   D11 results on a full standard output exit 1
#   D12 bench bounds --batch/--seconds and stops on SIGTERM
#   D13 info refuses a negative step / odd lattice
#   D14 file:line:key for a 3D lattice, a missing sample.model
#   D09 train --resume refuses a changed run, allows more steps
#   train.sh FLOWGEN        (prints a Check-style summary line)
set -uo pipefail
fg=$1
work=$(mktemp -d -t flowgen-reliability.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
checks=0 failures=0
check() {  # check "what" command...
  checks=$((checks + 1))
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
# runs CMD..., keeping its exit status in $rc and its stderr in $err
run() { "$@" >"$work/out" 2>"$work/err"; rc=$?; err=$(grep -a '^flowgen' "$work/err"); }
exits() { [ "$rc" = "$1" ] || { echo "  exit $rc, expected $1: $err"; return 1; }; }
says() { for s in "$@"; do [[ $err == *"$s"* ]] || { echo "  '$s' not in: $err"; return 1; }; done; }
# cfg DIR [sed expression]: a tiny training config (4x4, 2 layers) in DIR/cfg.yaml
cfg() {
  mkdir -p "$1"
  sed -e "${2:-s/^//}" > "$1/cfg.yaml" <<'EOF'
seed: 5
theory:
  name: phi4
  lattice: [4, 4]
  m2: -1.0
  lambda: 0.5
model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [2]}
train:
  steps: 40
  batch_size: 8
  optimizer: {name: adam, lr: 1.0e-3}
  checkpoint: model.h5
  log: train.csv
  checkpoint_every: 10
  eval_samples: 64
sample:
  model: model.h5
  proposals: 64
  batch_size: 8
  output: ensemble.h5
hmc:
  trajectories: 10
  output: hmc.h5
EOF
}

# ---- D05: an earlier training is never overwritten by accident
d=$work/d05; cfg "$d"
run "$fg" train "$d/cfg.yaml"; check "D05 first training" exits 0
sum=$(sha256sum < "$d/model.h5")
sed -i 's/^seed: 5/seed: 6/' "$d/cfg.yaml"
run "$fg" train "$d/cfg.yaml"
check "D05 train over an existing checkpoint exits 2" exits 2
check "D05 ... naming the key and both ways on" says "cfg.yaml:12: train.checkpoint" "--resume" "--overwrite"
check "D05 ... leaving the checkpoint as it was" test "$sum" = "$(sha256sum < "$d/model.h5")"
rm "$d/model.h5"
run "$fg" train "$d/cfg.yaml"
check "D05 an existing log alone is refused too" says "train.log" "exists"
run "$fg" train "$d/cfg.yaml" --resume --overwrite
check "D05 --resume with --overwrite is refused" exits 2
run "$fg" train "$d/cfg.yaml" --overwrite
check "D05 --overwrite starts over" exits 0

# ---- D08: outputs checked up front (the run would take minutes: it must take none)
d=$work/d08; cfg "$d" 's/steps: 40/steps: 1000000/'; touch "$d/afile"
sed 's|checkpoint: model.h5|checkpoint: afile/model.h5|' "$d/cfg.yaml" > "$d/c1.yaml"
start=$SECONDS; run "$fg" train "$d/c1.yaml"
check "D08 checkpoint under a file: exit 2 before any work" exits 2
check "D08 ... with the OS reason" says "train.checkpoint" "afile"
check "D08 ... and no training" test $((SECONDS - start)) -lt 20 -a ! -e "$d/train.csv"
mkdir "$d/model.h5"
run "$fg" train "$d/cfg.yaml"
check "D08 checkpoint path is a folder: exit 2" exits 2
check "D08 ... saying so" says "train.checkpoint" "it is a folder"
rmdir "$d/model.h5"
sed 's|log: train.csv|log: afile/train.csv|' "$d/cfg.yaml" > "$d/c2.yaml"
run "$fg" train "$d/c2.yaml"
check "D08 log under a file: exit 2 naming train.log" says "train.log" "Not a directory"
d=$work/d08s; cfg "$d"; run "$fg" train "$d/cfg.yaml"; touch "$d/afile"
sed -i 's|output: ensemble.h5|output: afile/e.h5|; s|output: hmc.h5|output: afile/h.h5|' "$d/cfg.yaml"
run "$fg" sample "$d/cfg.yaml"
check "D08 sample.output under a file: exit 2" exits 2
check "D08 ... naming sample.output" says "sample.output" "Not a directory"
run "$fg" hmc "$d/cfg.yaml"
check "D08 hmc.output under a file: exit 2 naming hmc.output" says "hmc.output" "Not a directory"
if [ "$(id -u)" != 0 ]; then  # root writes anywhere: the read-only case needs a user
  mkdir "$work/ro"; chmod 555 "$work/ro"
  sed 's|output: afile/e.h5|output: ../ro/e.h5|' "$d/cfg.yaml" > "$d/ro.yaml"
  run "$fg" sample "$d/ro.yaml"
  check "D08 read-only folder: exit 2 with the OS reason" says "Permission denied"
fi

# ---- D03: NaN is caught; the last good checkpoint is kept
d=$work/d03; cfg "$d" 's/lattice: \[4, 4\]/lattice: [8, 8]/; s/m2: -1.0/m2: -4.0/; s/lambda: 0.5/lambda: 2.0/; s/lr: 1.0e-3/lr: 1.0e30/; s/hidden_channels: \[2\]/hidden_channels: [4, 4]/; s/checkpoint_every: 10/checkpoint_every: 1/; s/batch_size: 8/batch_size: 32/'
run "$fg" train "$d/cfg.yaml"
check "D03 a diverging training exits 1" exits 1
check "D03 ... naming the step and the cause" says "non-finite loss at step 2" "step 1, is kept"
run "$fg" info "$d/model.h5"
check "D03 ... the kept checkpoint is clean" exits 0

# ---- signals right at the start are stop requests, not deaths
d=$work/sig; cfg "$d" 's/steps: 40/steps: 100000/'
"$fg" train "$d/cfg.yaml" >/dev/null 2>&1 & pid=$!
sleep 0.05; kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM 0.05 s after start: a clean stop (exit 0), not a kill" exits 0

# ---- D11: results that cannot be written
d=$work/d05
if [ -w /dev/full ]; then
  run "$fg" info "$d/model.h5" --json
  sum=$rc; "$fg" info "$d/model.h5" --json >/dev/full 2>"$work/err"; rc=$?; err=$(cat "$work/err")
  check "D11 results on a full stdout: exit 1 with the OS reason" says "No space left on device"
  check "D11 ... (exit 1)" exits 1
fi

# ---- D12: bench arguments and signals
d=$work/d12; cfg "$d"
run "$fg" bench "$d/cfg.yaml" --batch 99999999999999
check "D12 bench --batch 99999999999999: exit 2 naming the limit" says "--batch" "between 1 and"
for s in nan inf 0 -1 abc; do
  run "$fg" bench "$d/cfg.yaml" --seconds $s
  check "D12 bench --seconds $s: exit 2" exits 2
done
"$fg" bench "$d/cfg.yaml" --seconds 60 >/dev/null 2>"$work/err" & pid=$!
sleep 1; kill -TERM $pid; start=$SECONDS; wait $pid; rc=$?; err=$(cat "$work/err")
check "D12 bench stops within 5 s of SIGTERM (exit 1)" test $rc = 1 -a $((SECONDS - start)) -le 5

# ---- D13: damaged checkpoints through info
d=$work/d05
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  cp "$d/model.h5" "$work/neg.h5"
  /usr/bin/python3 -c "import h5py,numpy as np;f=h5py.File('$work/neg.h5','r+');f.attrs['step']=np.int64(-5)"
  run "$fg" info "$work/neg.h5"
  check "D13 info on step -5: exit 2 naming the field" says "attribute 'step' is -5"
  cp "$d/model.h5" "$work/odd.h5"
  /usr/bin/python3 -c "import h5py,numpy as np;f=h5py.File('$work/odd.h5','r+');f['theory'].attrs['lattice']=np.array([7,8],np.int32)"
  run "$fg" info "$work/odd.h5"
  check "D13 info on lattice [7, 8]: exit 2 naming it" says "'lattice': extent 7"
fi

# ---- D14: messages at file:line:key
d=$work/d14; cfg "$d" 's/lattice: \[4, 4\]/lattice: [4, 4, 4]/'
run "$fg" train "$d/cfg.yaml"
check "D14 3D lattice for a flow: exit 2 at cfg.yaml:4: theory.lattice" says "cfg.yaml:4: theory.lattice: value [4, 4, 4]" "2D"
d=$work/d14b; cfg "$d" 's|  model: model.h5|  model: /nonexistent/model.h5|'
run "$fg" sample "$d/cfg.yaml"
check "D14 missing sample.model: exit 2 at its line" says "cfg.yaml:17: sample.model" "No such file"

# ---- D09: a resume must continue the same run
d=$work/d09; cfg "$d"; run "$fg" train "$d/cfg.yaml"
for change in "s/lambda: 0.5/lambda: 0.6/" "s/batch_size: 8/batch_size: 16/" "s/{name: adam, lr: 1.0e-3}/{name: sgd, lr: 1.0e-3}/" "s/lattice: \[4, 4\]/lattice: [8, 8]/"; do
  sed "$change; s/steps: 40/steps: 60/" "$d/cfg.yaml" > "$d/changed.yaml"
  run "$fg" train "$d/changed.yaml" --resume
  check "D09 resume with '$change' refused (exit 2)" exits 2
done
sed 's/steps: 40/steps: 60/; s/checkpoint_every: 10/checkpoint_every: 20/; s/eval_samples: 64/eval_samples: 128/' "$d/cfg.yaml" > "$d/more.yaml"
run "$fg" train "$d/more.yaml" --resume
check "D09 resume with more steps, checkpoint_every, eval_samples: allowed" exits 0

pct=$(( checks > 0 ? 100 * (checks - failures) / checks : 0 ))
echo "$pct%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
