#!/usr/bin/env bash
# Sets up (packages + build) and runs the whole test suite under ctest: unit, toy-problem, MPI and
# end-to-end tests. Extra arguments go to ctest (e.g. -L toy, -R sampler).
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/setup.sh"
BUILD_DIR=${BUILD_DIR:-build}
# One BLAS thread per test process: ctest runs tests side by side on the cores.
export OPENBLAS_NUM_THREADS=1
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"
