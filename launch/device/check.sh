#!/bin/bash
# Runs on a lent GPU machine (the device tool), from the repository root there, on what launch/device/pack.sh
# packed into .devcarry: phases in the order given, each copying its results into $OUT before the next starts
# (the machine is given back 30 s after a call, with everything on it).
#   tests           the GPU suites (the tests never yet run on a GPU first) and the GPU extension test
#   bench           bench_gpu_mlp beside PyTorch on the same GPU (where the image has torch)
#   scaling STEPS   launch/studies/scaling-check.toml on 1, 2 and 4 ranks of the host's cores, STEPS steps per
#                   trial (300 in the file; 100 take about 3 minutes on a 16-core host), and its report
#   large-batch N   launch/studies/large-batch.toml on the GPU for at most N seconds (it resumes), and its report
# Example: run(command="bash launch/device/check.sh tests scaling 100", carry=[".devcarry"], timeout_s=540)
set -u
R=$PWD
D=$R/.devcarry
W=/tmp/normscale-device
T0=$(date +%s)
OUT=${OUT:-/tmp/normscale-device-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/check.log") 2>&1
say() { echo "[t=$(( $(date +%s) - T0 ))s] $*"; }
if [ ! -f "$D/bin.tar.xz" ]; then
  echo "check.sh: $D/bin.tar.xz missing: run launch/device/pack.sh on the development machine and carry .devcarry"
  exit 2
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OPENBLAS_CORETYPE=Haswell LD_LIBRARY_PATH=$W/lib:/usr/lib/x86_64-linux-gnu/openmpi/lib
if [ ! -f $W/.ready ]; then
  mkdir -p $W/lib $W/stage
  tar -xJf "$D/bin.tar.xz" -C $W && tar -xJf "$D/libs.tar.xz" -C $W/stage
  command -v mpirun > /dev/null || { say "no mpirun: unpacking Debian's Open MPI"; tar -xJf "$D/ompi.tar.xz" -C /;
    ln -sf orterun /usr/bin/mpirun; ln -sf orterun /usr/bin/mpiexec; }
  # Only what the image lacks: its own MPI, NCCL and C++ runtime stay in charge.
  for f in $W/stage/*; do ldconfig -p | grep -q "$(basename "$f") " || cp "$f" $W/lib/; done
  mkdir -p /usr/share/datasets/fashion-mnist && cp "$D"/fmnist/*.gz /usr/share/datasets/fashion-mnist/
  # The tests look for the sources and the binary where they were built.
  if [ "$R" != /work/main ]; then
    mkdir -p /work/main && ln -sfn "$R/tests" /work/main/tests && ln -sfn "$R/launch" /work/main/launch
  fi
  mkdir -p /work/main/build-dev && cp $W/bin/normscale /work/main/build-dev/normscale
  touch $W/.ready
fi
NS=$W/bin/normscale
say "packed at $(tr '\n' ' ' < "$D/commit"); $(nvidia-smi -L 2>&1 | head -2 | tr '\n' ' '); $(nproc) cores"
ldd $NS | grep "not found"
$NS --version 2>&1 | head -4

run_suite() {  # binary [gtest filter]
  timeout 200 $W/bin/"$1" --gtest_filter="${2:-*}" 2>&1 |
    grep -E "^\[  (FAILED|SKIPPED|PASSED) |^\[==========\]|Failure|Expected|Which is|actual" | head -80
  say "$1 ${2:-} exit ${PIPESTATUS[0]}"
}

while [ $# -gt 0 ]; do
  phase=$1; shift
  case $phase in
    tests)
      say "GPU tests, the never-run ones first"
      # cuBLAS and NCCL are opened on first use since 2026-12-06: that they open here first.
      run_suite gpu_test_cuda_libraries 'CudaLibraries.EveryFunctionTheBackendCallsResolves'
      first='GpuTrainer.CoordinateRoundsMatchCpu:GpuTrainer.MinnormAdaptivePenaltyMatchesCpu'
      run_suite gpu_test_gpu_trainer "$first:GpuTrainer.MinnormAveragingMatchesCpu"
      run_suite gpu_test_gpu_run
      for t in gpu_test_gpu_trainer gpu_test_gpu_layers gpu_test_gpu_objectives gpu_test_gpu_nccl; do run_suite $t; done
      run_suite unit_test_extending '*Gpu*'
      ;;
    bench)
      say "GPU step benchmarks"
      timeout 150 $W/bin/bench_gpu_mlp --benchmark_min_time=0.3 --benchmark_counters_tabular=true 2>&1 |
        grep -v '^\*\*\*'
      if python3 -c 'import torch' 2> /dev/null; then
        for mode in "" --tf32 --bf16; do
          timeout 60 python3 "$R/perf/pytorch_mlp.py" --device cuda --batch 128 1024 60000 --examples 60000 \
            --seconds 1 $mode
        done
      fi
      ;;
    scaling)
      steps=${1:?scaling needs a number of steps per trial}; shift
      say "scaling check: 1, 2, 4 ranks, a core each, $steps steps"
      lscpu | grep -E '^(Thread|Core|Socket|NUMA node)\(s\)'
      mkdir -p /tmp/sc
      sed -e "s/^steps = 300$/steps = $steps/" -e "s/^eval_every = 150$/eval_every = $(( (steps + 1) / 2 ))/" \
        "$R/launch/studies/scaling-check.toml" > /tmp/sc/scaling-check.toml
      (cd /tmp/sc && timeout 420 $NS study run --cores 1 scaling-check.toml > study.log 2>&1; tail -3 study.log)
      $NS report --cores "$(nproc)" --no-plots /tmp/sc/scaling-check.toml > /tmp/sc/report.log 2>&1
      tail -3 /tmp/sc/report.log
      tar -czf "$OUT/scaling-check.tar.gz" -C /tmp/sc --exclude='*.runs' . && say "scaling-check.tar.gz written"
      ;;
    large-batch)
      budget=${1:?large-batch needs a number of seconds}; shift
      say "large-batch study on the GPU for at most $budget s"
      mkdir -p /tmp/lb
      sed 's/^\[base\]$/[base]\ndevice = "cuda"/' "$R/launch/studies/large-batch.toml" > /tmp/lb/large-batch.toml
      (cd /tmp/lb && timeout "$budget" $NS study run --cores "$(nproc)" large-batch.toml > study.log 2>&1
       tail -3 study.log)
      $NS study status /tmp/lb/large-batch.toml 2>&1 | tail -8
      $NS report --no-plots /tmp/lb/large-batch.toml > /tmp/lb/report.log 2>&1; tail -3 /tmp/lb/report.log
      tar -czf "$OUT/large-batch-gpu.tar.gz" -C /tmp/lb --exclude='*.runs' . && say "large-batch-gpu.tar.gz written"
      ;;
    *) echo "check.sh: unknown phase '$phase' (tests, bench, scaling STEPS, large-batch SECONDS)"; exit 2 ;;
  esac
done
say "done"
