#!/bin/bash
# Prepares a lent GPU machine's check (launch/device/check.sh) here, where the toolchain is: builds the GPU
# binaries in build-dev (sm_90, the portable default -march=x86-64-v3: the device's CPU differs), and packs them
# stripped, with every shared library they need beyond glibc and the CUDA driver, and the Fashion-MNIST files, into
# the ignored folder .devcarry (about 25 MB; the device tool carries at most 64 MiB). Then, with the device tool:
#   run(command="bash launch/device/check.sh tests scaling 100", carry=[".devcarry"], timeout_s=540)
# Usage: launch/device/pack.sh [cuda architecture, default 90 (H100/H200)]
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCH=${1:-90}
BUILD=build-dev
CARRY=.devcarry
TARGETS="normscale bench_gpu_mlp unit_test_extending gpu_test_gpu_layers gpu_test_gpu_objectives \
gpu_test_gpu_trainer gpu_test_gpu_run gpu_test_gpu_nccl gpu_test_cuda_libraries"

grep -qx "/$CARRY/" .git/info/exclude 2>/dev/null || echo "/$CARRY/" >> .git/info/exclude
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNORMSCALE_MARCH=x86-64-v3 -DNORMSCALE_ENABLE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCH" > /dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD" -j "$(nproc)" --target $TARGETS

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
for t in $TARGETS; do
  path=$(find "$BUILD" -maxdepth 3 -type f -name "$t" -perm -u+x | head -1)
  [ -n "$path" ] || { echo "pack.sh: $t was not built in $BUILD" >&2; exit 1; }
  strip -o "$stage/bin/$t" "$path"
done
# Libraries: everything ldd resolves except glibc's own and CUDA's (the device has its driver and toolkit).
ldd "$stage"/bin/* | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*|libcudart.so*|libcublas*|libnccl*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
rm -rf "$CARRY" && mkdir -p "$CARRY/fmnist"
tar -cJf "$CARRY/bin.tar.xz" -C "$stage" bin
tar -cJf "$CARRY/libs.tar.xz" -C "$stage/lib" .
cp /usr/share/datasets/fashion-mnist/*.gz "$CARRY/fmnist/"
# Debian's Open MPI launcher, for a device image without one (check.sh unpacks it only then).
tar -cJf "$CARRY/ompi.tar.xz" -C / etc/openmpi usr/bin/orted usr/bin/orterun usr/lib/x86_64-linux-gnu/openmpi \
  usr/share/openmpi
git rev-parse HEAD > "$CARRY/commit"
git status --porcelain --untracked-files=no | grep -q . && echo "dirty" >> "$CARRY/commit"
du -sh "$CARRY"
echo "packed $(tr '\n' ' ' < "$CARRY/commit")for sm_$ARCH; next, with the device tool:"
echo "  run(command=\"bash launch/device/check.sh tests scaling 100\", carry=[\"$CARRY\"], timeout_s=540)"
