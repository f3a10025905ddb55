#!/usr/bin/env bash
# Writes the trajectory reference weights of every case in cases.txt with the given normscale binary:
#   tests/data/trajectory/generate.sh build/normscale
# Only to be run with a binary whose trajectories are known good (the references pin them down).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(realpath "$1")"
common="$(sed -n 's/^common: //p' "$here/cases.txt")"
grep -v -e '^#' -e '^common:' "$here/cases.txt" | while IFS= read -r line; do
  [ -n "$line" ] || continue
  name="${line%%:*}"
  args="${line#*: }"
  work="$(mktemp -d)"
  eval "\"$binary\" train $args $common --out \"$work/run\"" >/dev/null
  rm -rf "${here:?}/$name"
  mkdir -p "$here/$name"
  cp "$work"/run/*.npy "$here/$name/"
  rm -rf "$work"
  echo "generate: $name: $(ls "$here/$name" | tr '\n' ' ')"
done
