#!/usr/bin/env bash
# The main job, end to end: installs what is missing, builds, trains the
# tutorial flow (configs/phi4_tutorial.yaml), samples an ensemble with it
# and analyses the ensemble.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
export OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
rm -f out/tutorial/ensemble.h5 out/tutorial/ensemble.h5.tmp
./build/flowgen train configs/phi4_tutorial.yaml --overwrite   # a rerun starts over
./build/flowgen sample configs/phi4_tutorial.yaml
./build/flowgen analyze out/tutorial/ensemble.h5
