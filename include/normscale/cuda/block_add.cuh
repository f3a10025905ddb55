// Launch shapes and block sums shared by the GPU backend's kernels: one thread per element or example,
// sums in double through a block reduction and one atomic per block.
#pragma once

#include <cub/block/block_reduce.cuh>

#include <cstdint>

namespace normscale::kernels {

inline constexpr int kThreads = 256;

inline unsigned blocks_for(std::int64_t count, int threads = kThreads) {
  const std::int64_t blocks = (count + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535LL * 16 ? 65535LL * 16 : blocks));
}

// Adds the block's sum of `value` to *sum with one atomic.
__device__ inline void block_add(double value, double* sum) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const double total = Reduce(storage).Sum(value);
  if (threadIdx.x == 0 && total != 0.0) atomicAdd(sum, total);
}

__device__ inline void block_add(unsigned long long value, unsigned long long* sum) {
  using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const unsigned long long total = Reduce(storage).Sum(value);
  if (threadIdx.x == 0 && total != 0) atomicAdd(sum, total);
}

}  // namespace normscale::kernels
