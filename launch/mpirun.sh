#!/usr/bin/env bash
# Runs normscale under mpirun on this machine: NP ranks, THREADS BLAS threads per rank (default: the
# cores divided among the ranks), ranks bound to cores, --oversubscribe when there are more ranks than
# cores. Example: NP=2 launch/mpirun.sh train --preset paper-sgd --out runs/sgd-2ranks
# Environment: NP (default 2), THREADS, BIND (core, socket or none; default core), BUILD_DIR (build),
# MPIRUN_FLAGS (extra flags, e.g. "--hostfile hosts.txt" for several machines).
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${NP:-2}
CORES=$(nproc)
THREADS=${THREADS:-$(( CORES / NP > 0 ? CORES / NP : 1 ))}
BIND=${BIND:-core}
flags=(-np "$NP" --bind-to "$BIND" -x "OPENBLAS_NUM_THREADS=$THREADS" -x OMP_NUM_THREADS=1)
[ "$NP" -le "$CORES" ] || flags+=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || flags+=(--allow-run-as-root)
# shellcheck disable=SC2086
exec mpirun "${flags[@]}" ${MPIRUN_FLAGS:-} "${BUILD_DIR:-build}/normscale" "$@"
