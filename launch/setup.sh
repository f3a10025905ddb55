#!/usr/bin/env bash
# Installs the Debian packages normscale needs (only those missing) and configures and builds it.
# Idempotent: a second run installs nothing and rebuilds only what changed.
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config ninja-build
  libopenmpi-dev openmpi-bin
  libeigen3-dev libopenblas-dev
  # oneDNN: the GEMM back end chosen at run time on AVX-512 CPUs (optional to the build; issue #16).
  libdnnl-dev
  libboost-serialization-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  liblinear-dev  # perf/bench_svm_solvers: the SVM solver normscale's coordinate rule is measured against
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libfmt-dev
  zlib1g-dev libpng-dev libsqlite3-dev
  gnuplot-nox
  slurm-wlm munge
  dataset-fashion-mnist
  # QEMU's user-mode emulator: tests run the binary on an emulated CPU without AVX-512 (issue #16).
  qemu-user
  # The sanitizer + fuzz build (launch/test.sh, NORMSCALE_SANITIZE=1): clang, its sanitizer and libFuzzer
  # runtimes (only recommended by clang, so named here), llvm-symbolizer for file:line in reports.
  clang libclang-rt-14-dev llvm
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# Ninja for a new build folder (its scheduling of ~300 targets took ~100 s less than make's on 2 cores); one that
# exists keeps the generator it was made with (CMake refuses to change it).
generator=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || generator=(-G Ninja)
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "setup: built in $BUILD_DIR"
