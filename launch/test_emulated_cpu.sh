#!/usr/bin/env bash
# Runs the whole test suite as on a CPU without AVX-512 or bf16 (issue #16: the tests must pass on such a machine as
# well as on an AVX-512 one; these VMs and users' nodes differ). launch/test.sh runs the unit tests so (-L emulated);
# this runs all of them, the toy problems and MPI ranks included: a build in build-emulated (the default
# NORMSCALE_MARCH=x86-64-v3) whose test programs run on a CPU emulated by QEMU in user mode (Debian's qemu-user, which
# launch/setup.sh installs): its model "max" implements x86-64 up to AVX2, so CPUID, oneDNN and the tests see no
# AVX-512 and no bf16. The normscale binary that tests start runs natively, with oneDNN capped at AVX2
# (ONEDNN_MAX_CPU_ISA), so its products' kernels are chosen as on such a CPU too.
# Environment: EMULATED_CPU (a QEMU model, default max; e.g. EPYC-Rome, Haswell), BUILD_DIR (default
# build-emulated), JOBS. Extra arguments go to ctest (default: all but the SLURM tests, -LE slurm).
# Takes about as long as launch/test.sh's first stage.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-x86_64 > /dev/null || { echo "test_emulated_cpu: qemu-x86_64 not found: run launch/setup.sh" >&2; exit 1; }
CPU=${EMULATED_CPU:-max}
BUILD_DIR=${BUILD_DIR:-build-emulated}
generator=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || generator=(-G Ninja)
# The emulator runs each test program (ctest and gtest's discovery) and each rank of the MPI tests.
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DNORMSCALE_MARCH=x86-64-v3 \
  -DNORMSCALE_ENABLE_CUDA=OFF -DNORMSCALE_BUILD_PERF=OFF \
  -DCMAKE_CROSSCOMPILING_EMULATOR="qemu-x86_64;-cpu;$CPU" -DMPIEXEC_PREFLAGS="qemu-x86_64;-cpu;$CPU" > /dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
qemu-x86_64 -cpu "$CPU" "$BUILD_DIR/tests/cpu_features_probe" | sed "s/^present:/test_emulated_cpu: the emulated CPU ($CPU) has:/"
export OPENBLAS_NUM_THREADS=1 ONEDNN_MAX_CPU_ISA=AVX2
[ $# -gt 0 ] || set -- -LE slurm
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"
