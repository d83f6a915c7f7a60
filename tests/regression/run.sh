#!/usr/bin/env bash
# Bit-for-bit regression of phi^4: trains, samples (1 and 3 ranks) and runs
# HMC on the two configs here and compares the SHA-256 of every numeric
# dataset listed in expected.sha256 with what this build writes. The
# reference was made by flowgen 0.1 (before the theory interface); a
# dataset the reference does not list (added later) is not compared.
# Floating point differs between optimisation levels, so each build kind
# has its reference: expected-release.sha256 (meson's release build, as
# scripts/demo.sh makes it) and expected-sanitize.sha256 (debugoptimized
# with the address and undefined sanitizers, as scripts/test.sh makes it).
#   run.sh FLOWGEN REF            check (prints a Check-style summary line)
#   run.sh FLOWGEN REF --write    rewrite REF (only on purpose)
set -uo pipefail
fg=$1; ref=$2; mode=${3:-check}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d -t flowgen-regression.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
checks=0 failures=0
check() {  # check "what" command...
  checks=$((checks + 1))
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
# sums TAG FILE: "sha256  TAG:/dataset" for each numeric dataset (raw little-endian bytes)
sums() {
  local raw="$work/raw.bin"
  h5ls -r "$2" | awk '$2 == "Dataset" {print $1}' | sort | while read -r d; do
    case "$d" in /config) continue ;; esac
    if h5dump -d "$d" -b LE -o "$raw" "$2" >/dev/null 2>&1; then
      echo "$(sha256sum < "$raw" | cut -c1-64)  $1:$d"
    fi
  done
}
run_point() {  # run_point NAME
  local d="$work/$1"
  mkdir -p "$d" && cp "$here/$1.yaml" "$d/" || return 1
  "$fg" train "$d/$1.yaml" >/dev/null 2>"$d/train.err" || { cat "$d/train.err"; return 1; }
  "$fg" sample "$d/$1.yaml" >/dev/null 2>"$d/sample.err" || { cat "$d/sample.err"; return 1; }
  mv "$d/out/ensemble.h5" "$d/ensemble1.h5"
  mpirun --oversubscribe -n 3 "$fg" sample "$d/$1.yaml" >/dev/null 2>"$d/sample3.err" ||
    { cat "$d/sample3.err"; return 1; }
  "$fg" hmc "$d/$1.yaml" >/dev/null 2>"$d/hmc.err" || { cat "$d/hmc.err"; return 1; }
  sums "$1/model" "$d/out/model.h5" > "$d/sums"
  sums "$1/ensemble" "$d/ensemble1.h5" >> "$d/sums"
  sums "$1/hmc" "$d/out/hmc.h5" >> "$d/sums"
  sums "$1/ensemble" "$d/out/ensemble.h5" > "$d/sums3"
}
same_sums() { diff <(grep ensemble: "$1") "$2" >/dev/null; }
for p in normal free_field; do
  check "$p: train, sample (1 and 3 ranks) and hmc ran" run_point "$p"
  check "$p: the 3-rank ensemble equals the 1-rank one" same_sums "$work/$p/sums" "$work/$p/sums3"
done
cat "$work"/normal/sums "$work"/free_field/sums > "$work/all.sha256"
if [ "$mode" = --write ]; then
  cp "$work/all.sha256" "$ref"
  echo "wrote $ref ($(wc -l < "$ref") datasets)"
  exit 0
fi
while read -r sum name; do
  got=$(awk -v n="$name" '$2 == n {print $1}' "$work/all.sha256")
  check "$name bit for bit as flowgen 0.1" test "$got" = "$sum"
done < "$ref"
echo "100%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" -eq 0 ]
