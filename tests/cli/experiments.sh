#!/usr/bin/env bash
# The experiment scripts' helpers on synthetic input: fig1_range.awk's
# lr / bs ratios (empty where an arm never reached the level), stats.awk's
# mean, sd, min, max and count (empty cells left out), and lib.sh's
# config_set (block and flow-style keys, whole words only) and train_leg
# (a result only from a run that succeeded; resume once a checkpoint
# exists; a finished leg skipped), with stand-ins for flowgen. Prints a
# Check-style summary line.
#   experiments.sh
set -uo pipefail
here=$(cd "$(dirname "$0")/../../scripts/experiments" && pwd)
work=$(mktemp -d -t flowgen-experiments.XXXXXX)
trap 'rm -rf "$work"' EXIT
checks=0 failures=0
check() {
  checks=$((checks + 1))
  if [ "$2" = "$3" ]; then echo "ok: $1"; else
    echo "FAIL: $1: expected '$3', got '$2'"; failures=$((failures + 1)); fi
}

cat > "$work/runs.csv" <<'CSV'
arm,seed,measure,level,step,n_train,seconds,fresh_ess,fresh_err
lr,1,rolling,0.6,,,,,
bs,1,rolling,0.6,900,1000,2.0,0.5,0.01
lr,2,rolling,0.6,900,30000,30.0,0.6,0.01
bs,2,rolling,0.6,800,2000,3.0,0.5,0.01
lr,3,rolling,0.6,900,40000,40.0,0.6,0.01
bs,3,rolling,0.6,800,1000,4.0,0.5,0.01
CSV
awk -f "$here/fig1_range.awk" "$work/runs.csv" > "$work/ratios.csv"
check "ratio lr / bs per seed" "$(cut -d, -f6,9 "$work/ratios.csv" | tr '\n' ' ')" \
  "ratio_n_train,ratio_seconds , 15,10 40,10 "
awk -v keys="measure level" -v values="ratio_n_train ratio_seconds" -f "$here/stats.awk" \
  "$work/ratios.csv" > "$work/summary.csv"
check "stats over the seeds that reached the level" "$(tail -n 1 "$work/summary.csv")" \
  "rolling,0.6,27.5,17.68,15,40,2,10,0,10,10,2"
check "stats header" "$(head -n 1 "$work/summary.csv" | cut -d, -f1-4)" \
  "measure,level,ratio_n_train_mean,ratio_n_train_sd"

printf 'seed: 11\ntrain:\n  checkpoint: a.h5\n  checkpoint_every: 5\n  batch_size: 8\n  schedule: {kind: batch_size, max_batch_size: 64}\n  stop: {target_ess: 0.6, window: 20}\n' \
  > "$work/in.yaml"
(. "$here/lib.sh"; config_set "$work/in.yaml" "$work/out.yaml" seed 12 checkpoint /x/b.h5 \
  batch_size 16 target_ess 0.2 window 100)
check "config_set" "$(tr '\n' ' ' < "$work/out.yaml")" \
  "seed: 12 train:   checkpoint: /x/b.h5   checkpoint_every: 5   batch_size: 16   schedule: {kind: batch_size, max_batch_size: 64}   stop: {target_ess: 0.2, window: 100} "

# train_leg keeps a result only from a run that succeeded, and says so
# also when called from `||` (where `set -e` does not act).
mkdir -p "$work/ok" "$work/bad"
printf '#!/bin/sh\necho "{\\"mode\\": \\"$3\\"}"\n' > "$work/good"
printf '#!/bin/sh\necho partial; exit 1\n' > "$work/fail"
printf '#!/bin/sh\necho again\n' > "$work/again"
chmod +x "$work/good" "$work/fail" "$work/again"
status=$(set -e; . "$here/lib.sh"; bin=$work/fail; train_leg "$work/bad" run x.yaml || echo "failed $?")
check "train_leg: a failed run returns its status" "$status" "failed 1"
check "train_leg: a failed run leaves no result" "$(ls "$work/bad")" "run.err
run.json.part"
(. "$here/lib.sh"; bin=$work/good; train_leg "$work/ok" run x.yaml; touch "$work/ok/model.h5"
 rm "$work/ok/run.json"; train_leg "$work/ok" run x.yaml; bin=$work/again; train_leg "$work/ok" run x.yaml)
check "train_leg: --resume once a checkpoint exists, then skipped" "$(cat "$work/ok/run.json")" '{"mode": "--resume"}'

echo "100%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
