#!/usr/bin/env bash
# The square-loss papers' initialisation experiment on two Fashion-MNIST classes: {BN+WD, BN, neither}
# x initial Frobenius norm {0.1, 1, 5}; prints final rho, minimum and spread of the normalized
# margins, NC1, train and test error per run (one seed; launch/studies/square-loss-init.toml is the study of it).
# Environment: EPOCHS (default 20), OUT (default runs/square-loss-init), JOBS (runs side by side,
# default 2, one BLAS thread each), BUILD_DIR (default build), EXTRA (more `train` arguments, e.g.
# "--set eval_every=790"). A rerun continues each run from its checkpoint (a finished one is kept, or
# trained on to a larger EPOCHS); the logs are appended to.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/normscale
OUT=${OUT:-runs/square-loss-init}
EPOCHS=${EPOCHS:-20}
mkdir -p "$OUT"
for preset in square-bn-wd square-bn square-plain; do
  for scale in 0.1 1 5; do
    echo "$preset $scale"
  done
done | OPENBLAS_NUM_THREADS=1 xargs -P "${JOBS:-2}" -L 1 sh -c \
  "\"$BIN\" train --preset \"\$0\" --set model.init_scale=\"\$1\" --set epochs=$EPOCHS --set progress=false ${EXTRA:-} \
   --resume-or-start --out \"$OUT/\$0-init\$1\" >> \"$OUT/\$0-init\$1.log\" 2>&1 ||
   echo \"\$0 init \$1 failed: see $OUT/\$0-init\$1.log\" >&2"
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
print(f"| regime | init ||W||_F | rho | min margin | margin spread (p90-p10)/p50 | NC1 | train err % | test err % |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for preset in ["square-bn-wd", "square-bn", "square-plain"]:
    for scale in ["0.1", "1", "5"]:
        path = os.path.join(out, f"{preset}-init{scale}", "metrics.jsonl")
        rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
        rows = [r for r in rows if "event" not in r]
        if not rows:
            print(f"| {preset} | {scale} | failed (see {preset}-init{scale}.log) | | | | | |")
            continue
        r = rows[-1]
        m = r.get("margins", {})
        nc = r.get("neural_collapse", {})
        diverged = any("event" in json.loads(l) for l in open(path))
        note = " (diverged)" if diverged else ""
        print(f"| {preset}{note} | {scale} | {r['rho']:.4g} | {m.get('min', float('nan')):.3g} | "
              f"{m.get('spread', float('nan')):.3g} | {nc.get('nc1', float('nan')):.3g} | "
              f"{r['train_error']:.2f} | {r.get('test_error', float('nan')):.2f} |")
PY
