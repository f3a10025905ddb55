#!/usr/bin/env bash
# Sets up (packages + build) and runs the whole test suite under ctest: unit, toy-problem, MPI and
# end-to-end tests; then the sanitizer stage: a clang build with AddressSanitizer + UBSan (build-sanitize)
# runs the unit, toy and MPI suites again, and each fuzz target briefly (fuzz/). Extra arguments go to the
# first ctest only (e.g. -L toy, -R sampler). NORMSCALE_SANITIZE=0 skips the sanitizer stage.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/setup.sh"
BUILD_DIR=${BUILD_DIR:-build}
# One BLAS thread per test process: ctest runs tests side by side on the cores.
export OPENBLAS_NUM_THREADS=1
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"

if [ "${NORMSCALE_SANITIZE:-1}" = "0" ]; then
  echo "test: sanitizer stage skipped (NORMSCALE_SANITIZE=0)"
  exit 0
fi
SANITIZE_DIR=${SANITIZE_BUILD_DIR:-build-sanitize}
# CUDA off (nvcc takes no -fsanitize) and no benchmarks: neither is tested here. Only what the stage runs is built.
# -O1, as the sanitizers' documentation advises: at -O3 this build took about 15.5 of CI's 42 minutes on 2 cores
# (2026-12-04), at -O1 10.5 (with the test files' own savings, cmake/NormscaleTest.cmake), and its tests took no
# longer (234 s against 242 s). Ninja as in setup.sh.
generator=()
[ -f "$SANITIZE_DIR/CMakeCache.txt" ] || generator=(-G Ninja)
cmake -S . -B "$SANITIZE_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DNORMSCALE_SANITIZE=ON -DNORMSCALE_FUZZ=ON -DNORMSCALE_ENABLE_CUDA=OFF -DNORMSCALE_BUILD_PERF=OFF >/dev/null
cmake --build "$SANITIZE_DIR" -j "${JOBS:-$(nproc)}" \
  --target normscale_tests_unit normscale_tests_toy normscale_tests_mpi normscale_tests_fuzz
ctest --test-dir "$SANITIZE_DIR" --output-on-failure -j "$(nproc)" -L "unit|toy|mpi|fuzz"
