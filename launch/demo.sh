#!/usr/bin/env bash
# Sets up (packages + build) and runs the main job on the built-in default: the demo study
# (launch/studies/demo.toml: SGD vs minibatch Minnorm at global batch 128 and 2048, 1 and 2 ranks,
# 2 seeds, on a slice of Fashion-MNIST), then writes its report and prints the path of index.html.
# Running it again finishes an interrupted study without repeating finished trials.
# Environment: OUT (default runs/demo-study), BUILD_DIR (default build). Extra arguments go to
# `normscale study run` (e.g. --cores 4).
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/setup.sh"
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-runs/demo-study}
mkdir -p "$OUT"
# The study's database and runs live beside the study file, so it is copied into the output folder.
cp launch/studies/demo.toml "$OUT/demo.toml"
"$BUILD_DIR/normscale" study run "$OUT/demo.toml" "$@"
"$BUILD_DIR/normscale" report "$OUT/demo.toml"
