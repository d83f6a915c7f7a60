#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with the address
# and undefined-behaviour sanitizers in build-test/, runs every test, and
# ends with one line "N passed, N failed" (Check assertions counted).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
dir=build-test
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" --buildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$dir" >/dev/null || { ninja -C "$dir"; exit 1; }
export OPENBLAS_NUM_THREADS=1
meson test -C "$dir" --print-errorlogs "$@"
status=$?
python3 scripts/test_summary.py "$dir/meson-logs/testlog.json"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
