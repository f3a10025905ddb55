#!/usr/bin/env bash
# Does a long run stay flat? Trains a tiny model for STEPS steps on NP ranks with a checkpoint every
# EVERY steps, samples each rank's resident memory (VmRSS) and open file descriptors every half second, and
# prints the first half's maxima beside the second half's (ratio) and the checkpoints left on disk.
# Example: NP=2 STEPS=20000 EVERY=100 perf/long_run_flat.sh
# Environment: NP (2), STEPS (20000), EVERY (100), KEEP (keep_checkpoints, 3), BUILD_DIR (build), OUT (a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${NP:-2}
STEPS=${STEPS:-20000}
EVERY=${EVERY:-100}
KEEP=${KEEP:-3}
OUT=${OUT:-$(mktemp -d /tmp/normscale_long_run.XXXXXX)}
SAMPLES="$OUT/samples.tsv"
flags=(-np "$NP" -x OPENBLAS_NUM_THREADS=1)
[ "$NP" -le "$(nproc)" ] || flags+=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || flags+=(--allow-run-as-root)

mpirun "${flags[@]}" "${BUILD_DIR:-build}/normscale" train --set data.source=separable-2d \
  --set data.synthetic_examples=2000 --set 'model.hidden=[32]' --set objective.task=binary \
  --set optim.batch=64 --set optim.lr=0.01 --set objective.s=0.1 --set objective.rho=1 --set progress=false \
  --set steps="$STEPS" --set checkpoint_every="$EVERY" --set keep_checkpoints="$KEEP" --set eval_every="$EVERY" \
  --out "$OUT/run" > "$OUT/train.log" 2>&1 &
launcher=$!

# One line per rank per second: seconds, pid, VmRSS in KiB, open descriptors.
start=$(date +%s)
: > "$SAMPLES"
while kill -0 "$launcher" 2> /dev/null; do
  for pid in $(pgrep -f "normscale train .*--out $OUT/run" || true); do
    [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = normscale ] || continue
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2> /dev/null) || continue
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2> /dev/null | wc -l)
    [ -n "$rss" ] && printf '%s\t%s\t%s\t%s\n' "$(( $(date +%s) - start ))" "$pid" "$rss" "$fds" >> "$SAMPLES"
  done
  sleep 0.5
done
wait "$launcher" || { cat "$OUT/train.log"; echo "long_run_flat: the run failed (log above)" >&2; exit 1; }

echo "normscale: $STEPS steps on $NP ranks, checkpoint every $EVERY (keep $KEEP), $(( $(date +%s) - start )) s"
# Per rank, the largest RSS and descriptor count in the first and in the second half of the run: a leak
# shows as a second half above the first (ratio > 1).
awk -F'\t' -v half="$(( ($(date +%s) - start) / 2 ))" '
  { h = ($1 <= half) ? 1 : 2; n[$2]++
    if ($3 > rss[$2, h]) rss[$2, h] = $3; if ($4 > fds[$2, h]) fds[$2, h] = $4 }
  END { printf "%-8s %7s %18s %18s %7s %16s %16s\n", "pid", "samples", "RSS max 1st half", "RSS max 2nd half",
               "ratio", "fds max 1st half", "fds max 2nd half"
        for (p in n) printf "%-8s %7d %14d KiB %14d KiB %7.3f %16d %16d\n", p, n[p], rss[p, 1], rss[p, 2],
                             rss[p, 2] / rss[p, 1], fds[p, 1], fds[p, 2] }' "$SAMPLES"
kept=$(find "$OUT/run/checkpoints" -mindepth 1 -maxdepth 1 -name 'step_*' | wc -l)
echo "checkpoints on disk: $kept (keep_checkpoints = $KEEP)"
echo "samples: $SAMPLES"
