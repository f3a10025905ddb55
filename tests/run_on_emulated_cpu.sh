#!/usr/bin/env bash
# Runs a test program on a CPU without AVX-512 or bf16, emulated by QEMU in user mode (Debian's qemu-user; its model
# "max" implements x86-64 up to AVX2), so that CPUID, the CPU check, oneDNN's choice of kernels and the tests see
# such a CPU whatever machine runs them (issue #16: the tests pass there as on an AVX-512 one; these VMs and users'
# nodes differ). Programs the tests start (the normscale binary) run natively, with oneDNN capped at AVX2 so that they
# choose their kernels as on that CPU. Exits 77 (ctest: skipped) where qemu-x86_64 is missing or the build took
# instructions that CPU lacks (NORMSCALE_MARCH=native on an AVX-512 machine).
# Usage: run_on_emulated_cpu.sh NORMSCALE_BINARY TEST_PROGRAM [ARGUMENTS...]
# (The normscale binary, compiled with the test programs' flags, answers whether the build runs there: its start-up
# check is linked in; a test program that never references the check's object has none.)
set -uo pipefail
normscale=$1
program=$2
shift 2
if ! command -v qemu-x86_64 > /dev/null; then
  echo "run_on_emulated_cpu: skipped: qemu-x86_64 not found (Debian package qemu-user)"
  exit 77
fi
if ! version=$(qemu-x86_64 -cpu max "$normscale" --version 2>&1); then
  if grep -q "lacks instructions this build was compiled to use" <<< "$version"; then
    echo "run_on_emulated_cpu: skipped: the build needs instructions the emulated CPU lacks:"
    echo "$version"
    exit 77
  fi
  echo "$version"
  exit 1
fi
export ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_NUM_THREADS=1
# Left out: a test that forks a sender of thousands of signals at the threaded products. Under QEMU's user mode the
# emulated process aborted in 3 of 4 runs beside other tests (glibc: "free(): invalid next size"), natively 0 of 20 and
# never under AddressSanitizer: QEMU's delivery of signals to a threaded guest, not the CPU's instructions.
exec qemu-x86_64 -cpu max "$program" --gtest_filter="-CheckpointSignal.ABarrageOfSignals*" "$@"
