#!/usr/bin/env bash
# Weak scaling of the 784-800-800-10 MLP (cross-entropy SGD step on Fashion-MNIST): samples/s on 1 rank
# at batch B vs 2 ranks at global batch 2B, one BLAS thread per rank; efficiency = rate2 / (2 rate1).
# The rate is the trainer's own (training steps only, evaluations excluded), read from metrics.jsonl.
# Environment: BATCH (default 64), STEPS (default 400), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/normscale
BATCH=${BATCH:-64}
STEPS=${STEPS:-400}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
flags=(--allow-run-as-root --bind-to core -x OPENBLAS_NUM_THREADS=1)
[ "$(id -u)" -eq 0 ] || flags=(--bind-to core -x OPENBLAS_NUM_THREADS=1)

rate() {  # samples/s of the last evaluation interval of a run directory
  python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(r[-1]['samples_per_s'])" "$1/metrics.jsonl"
}
run() {  # ranks batch dir
  mpirun "${flags[@]}" -np "$1" "$BIN" train --preset paper-sgd --set "optim.batch=$2" --set "steps=$STEPS" \
    --set "eval_every=$STEPS" --set progress=false --set gallery=0 --set "checkpoint_every=$STEPS" \
    --out "$3" >/dev/null
}
run 1 "$BATCH" "$OUT/one"
run 2 $((2 * BATCH)) "$OUT/two"
r1=$(rate "$OUT/one")
r2=$(rate "$OUT/two")
python3 -c "
r1, r2 = $r1, $r2
print(f'1 rank,  batch $BATCH:  {r1:9.0f} samples/s')
print(f'2 ranks, batch $((2 * BATCH)): {r2:9.0f} samples/s')
print(f'weak-scaling efficiency: {r2 / (2 * r1):.3f}')"
