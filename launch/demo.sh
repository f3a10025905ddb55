#!/usr/bin/env bash
# Sets up (packages + build) and runs the main job on the built-in default: the Minnorm paper's
# 784-800-800-10 MLP on Fashion-MNIST with the stable minibatch Minnorm preset (rho = s), a few epochs.
# Environment: EPOCHS (default 3), OUT (default runs/demo). Extra arguments go to `normscale train`.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/setup.sh"
BUILD_DIR=${BUILD_DIR:-build}
exec "$BUILD_DIR/normscale" train --preset paper-minnorm-sgd-rho --set "epochs=${EPOCHS:-3}" \
  --out "${OUT:-runs/demo}" "$@"
