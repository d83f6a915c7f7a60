#!/usr/bin/env bash
# The main job: installs what is missing, builds, trains the tutorial flow
# (configs/phi4_tutorial.yaml) and prints what it reached and what the
# checkpoint holds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
export OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
./build/flowgen train configs/phi4_tutorial.yaml
./build/flowgen info out/tutorial/model.h5 | head -n 30
