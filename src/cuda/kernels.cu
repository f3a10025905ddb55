// The GPU backend's kernels besides the GEMMs and the objectives' rules: one thread per element, sums
// in double through a block reduction and one atomic per block (block_add.cuh).
#include "cuda/kernels.hpp"

#include "normscale/cuda/block_add.cuh"
#include "normscale/model/relu_rule.hpp"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <cmath>

namespace normscale::kernels {
namespace {

__global__ void gather_rows_kernel(const float* features, std::int64_t cols, const std::int32_t* rows,
                                   std::int64_t n, float* x) {
  const std::int64_t total = n * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t k = i / cols;
    x[i] = features[static_cast<std::int64_t>(rows[k]) * cols + (i - k * cols)];
  }
}

__global__ void gather_rows_counted_kernel(const float* src, std::int64_t cols, const std::int32_t* index,
                                           const std::int32_t* device_count, float* dst) {
  const std::int64_t total = static_cast<std::int64_t>(*device_count) * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t k = i / cols;
    dst[i] = src[static_cast<std::int64_t>(index[k]) * cols + (i - k * cols)];
  }
}

__global__ void bias_activation_kernel(float* out, const float* bias, std::int64_t rows, std::int64_t cols,
                                       bool relu) {
  const std::int64_t total = rows * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float v = out[i];
    if (bias != nullptr) v += bias[i % cols];
    out[i] = relu ? relu_value(v) : v;
  }
}

__global__ void relu_mask_kernel(float* delta, const float* activation, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (!(activation[i] > 0.0f)) delta[i] = 0.0f;
  }
}

// Rows of `stride` values whose first `multipliers` hold an alpha > 0.
__global__ void count_support_kernel(const double* alpha, std::int64_t rows, int stride, int multipliers,
                                     unsigned long long* count) {
  const std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  unsigned long long support = 0;
  if (r < rows) {
    for (int i = 0; i < multipliers; ++i) {
      if (alpha[r * stride + i] > 0.0) {
        support = 1;
        break;
      }
    }
  }
  block_add(support, count);
}

__global__ void sgd_kernel(float* params, const float* grad, float* velocity, std::int64_t count, float lr,
                           float momentum, float l2) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float p = params[i];
    if (velocity == nullptr) {
      params[i] = p - lr * (grad[i] + l2 * p);
    } else {
      const float v = momentum * velocity[i] + grad[i] + l2 * p;
      velocity[i] = v;
      params[i] = p - lr * v;
    }
  }
}

__global__ void squared_norm_kernel(const float* x, std::int64_t count, double* sum) {
  double total = 0.0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    total += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  }
  block_add(total, sum);
}

__global__ void row_squared_norms_kernel(const float* x, std::int64_t rows, std::int64_t cols, double add,
                                         double* out) {
  const std::int64_t r = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (r >= rows) return;  // whole warps leave together (blockDim is a multiple of 32)
  double total = 0.0;
  for (std::int64_t j = lane; j < cols; j += 32) {
    const double v = x[r * cols + j];
    total += v * v;
  }
  for (int offset = 16; offset > 0; offset /= 2) total += __shfl_down_sync(0xffffffffu, total, offset);
  if (lane == 0) out[r] = add + total;
}

// <w, w>, <w, g>, <g, g> into sums[0..2] (Lagrange normalization's block dot products).
__global__ void block_dots_kernel(const float* w, const float* g, std::int64_t count, double* sums) {
  double ww = 0.0, wg = 0.0, gg = 0.0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const double wi = w[i], gi = g[i];
    ww += wi * wi;
    wg += wi * gi;
    gg += gi * gi;
  }
  block_add(ww, sums);
  __syncthreads();  // block_add's shared storage is reused by the next sum
  block_add(wg, sums + 1);
  __syncthreads();
  block_add(gg, sums + 2);
}

__global__ void scale_add_kernel(float* w, const float* g, std::int64_t count, float a, float b) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    w[i] = a * w[i] + b * g[i];
  }
}

__global__ void fill_kernel(float* y, std::int64_t count, float value) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    y[i] = value;
  }
}

// Column reductions of batch norm: a 32 x 32 block owns 32 consecutive channels; its 32 row lanes
// stride over the rows, then add up in shared memory in a fixed order (deterministic, no atomics).
constexpr int kColumnTile = 32;

__global__ void bn_statistics_kernel(const float* x, std::int64_t rows, std::int64_t C, double* sums) {
  __shared__ double s_sum[kColumnTile][kColumnTile + 1];
  __shared__ double s_sq[kColumnTile][kColumnTile + 1];
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(kColumnTile) + threadIdx.x;
  double s = 0.0, q = 0.0;
  if (c < C) {
    for (std::int64_t r = threadIdx.y; r < rows; r += kColumnTile) {
      const double v = static_cast<double>(x[r * C + c]);
      s += v;
      q += v * v;
    }
  }
  s_sum[threadIdx.y][threadIdx.x] = s;
  s_sq[threadIdx.y][threadIdx.x] = q;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    double ts = 0.0, tq = 0.0;
    for (int k = 0; k < kColumnTile; ++k) {
      ts += s_sum[k][threadIdx.x];
      tq += s_sq[k][threadIdx.x];
    }
    sums[c] = static_cast<double>(rows);
    sums[C + c] = ts;
    sums[2 * C + c] = tq;
  }
}

__global__ void bn_prepare_kernel(const double* sums, std::int64_t C, bool train, bool update_running, double eps,
                                  double momentum, float* running_mean, float* running_var, const float* gamma,
                                  const float* beta, double* stats) {
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  double mean, inv_std;
  if (train) {
    // As BatchNorm<T>::forward: n is the (reduced) count of the first channel.
    const double n = sums[0];
    const double m = momentum;
    mean = sums[C + c] / n;
    const double var = fmax(sums[2 * C + c] / n - mean * mean, 0.0);
    inv_std = 1.0 / sqrt(var + eps);
    if (update_running) {
      running_mean[c] = static_cast<float>((1 - m) * static_cast<double>(running_mean[c]) + m * mean);
      running_var[c] = static_cast<float>((1 - m) * static_cast<double>(running_var[c]) + m * var * n / (n - 1));
    }
  } else {
    mean = static_cast<double>(running_mean[c]);
    inv_std = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
  }
  double scale = inv_std;
  double shift = -mean * inv_std;
  if (gamma != nullptr) {
    scale *= static_cast<double>(gamma[c]);
    shift = shift * static_cast<double>(gamma[c]) + static_cast<double>(beta[c]);
  }
  stats[c] = mean;
  stats[C + c] = inv_std;
  stats[2 * C + c] = scale;
  stats[3 * C + c] = shift;
}

__global__ void bn_apply_kernel(const float* x, std::int64_t rows, std::int64_t C, const double* stats, bool relu,
                                float* y) {
  const std::int64_t total = rows * C;
  const double* scale = stats + 2 * C;
  const double* shift = stats + 3 * C;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    const float v = static_cast<float>(static_cast<double>(x[i]) * scale[c] + shift[c]);
    y[i] = relu ? relu_value(v) : v;
  }
}

__global__ void bn_backward_sums_kernel(const float* x, const float* dy, std::int64_t rows, std::int64_t C,
                                        const double* stats, double* back, float* dgamma, float* dbeta) {
  __shared__ double s_dy[kColumnTile][kColumnTile + 1];
  __shared__ double s_dyx[kColumnTile][kColumnTile + 1];
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(kColumnTile) + threadIdx.x;
  double s = 0.0, sx = 0.0;
  if (c < C) {
    const double mean = stats[c];
    const double inv_std = stats[C + c];
    for (std::int64_t r = threadIdx.y; r < rows; r += kColumnTile) {
      const double g = static_cast<double>(dy[r * C + c]);
      s += g;
      sx += g * (static_cast<double>(x[r * C + c]) - mean) * inv_std;
    }
  }
  s_dy[threadIdx.y][threadIdx.x] = s;
  s_dyx[threadIdx.y][threadIdx.x] = sx;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    double ts = 0.0, tx = 0.0;
    for (int k = 0; k < kColumnTile; ++k) {
      ts += s_dy[k][threadIdx.x];
      tx += s_dyx[k][threadIdx.x];
    }
    back[c] = ts;
    back[C + c] = tx;
    if (dgamma != nullptr) {
      dgamma[c] = static_cast<float>(tx);
      dbeta[c] = static_cast<float>(ts);
    }
  }
}

__global__ void bn_input_gradient_kernel(const float* x, const float* dy, std::int64_t rows, std::int64_t C,
                                         const double* stats, const float* gamma, const double* sums,
                                         const double* back, bool train, float* dx) {
  const std::int64_t total = rows * C;
  const double n = train ? sums[0] : 1.0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    const double g = gamma != nullptr ? static_cast<double>(gamma[c]) : 1.0;
    const double inv_std = stats[C + c];
    const double d = static_cast<double>(dy[i]);
    if (train) {
      const double xhat = (static_cast<double>(x[i]) - stats[c]) * inv_std;
      dx[i] = static_cast<float>(g * inv_std * (d - back[c] / n - xhat * (back[C + c] / n)));
    } else {
      dx[i] = static_cast<float>(d * (inv_std * g));
    }
  }
}

// One block: a stable compaction of the flagged positions (each thread scans a contiguous run).
constexpr int kCompactThreads = 1024;
__global__ void compact_kernel(const std::int32_t* flags, std::int64_t n, std::int32_t* index, std::int32_t* count) {
  using Scan = cub::BlockScan<int, kCompactThreads>;
  __shared__ typename Scan::TempStorage storage;
  const std::int64_t per_thread = (n + kCompactThreads - 1) / kCompactThreads;
  const std::int64_t begin = threadIdx.x * per_thread;
  const std::int64_t end = begin + per_thread < n ? begin + per_thread : n;
  int mine = 0;
  for (std::int64_t k = begin; k < end; ++k) mine += flags[k] != 0 ? 1 : 0;
  int offset = 0, total = 0;
  Scan(storage).ExclusiveSum(mine, offset, total);
  for (std::int64_t k = begin; k < end; ++k) {
    if (flags[k] != 0) index[offset++] = static_cast<std::int32_t>(k);
  }
  if (threadIdx.x == 0) *count = total;
}

}  // namespace

void gather_rows(const float* features, std::int64_t cols, const std::int32_t* rows, std::int64_t n, float* x,
                 cudaStream_t stream) {
  if (n * cols == 0) return;
  gather_rows_kernel<<<blocks_for(n * cols), kThreads, 0, stream>>>(features, cols, rows, n, x);
}

void gather_rows_counted(const float* src, std::int64_t cols, const std::int32_t* index,
                         const std::int32_t* device_count, std::int64_t capacity, float* dst, cudaStream_t stream) {
  if (capacity * cols == 0) return;
  gather_rows_counted_kernel<<<blocks_for(capacity * cols), kThreads, 0, stream>>>(src, cols, index, device_count,
                                                                                   dst);
}

void bias_activation(float* out, const float* bias, std::int64_t rows, std::int64_t cols, bool relu,
                     cudaStream_t stream) {
  if (rows * cols == 0 || (bias == nullptr && !relu)) return;
  bias_activation_kernel<<<blocks_for(rows * cols), kThreads, 0, stream>>>(out, bias, rows, cols, relu);
}

void relu_mask(float* delta, const float* activation, std::int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  relu_mask_kernel<<<blocks_for(count), kThreads, 0, stream>>>(delta, activation, count);
}

void count_support(const double* alpha, std::int64_t rows, int stride, int multipliers, unsigned long long* count,
                   cudaStream_t stream) {
  if (rows == 0) return;
  count_support_kernel<<<blocks_for(rows), kThreads, 0, stream>>>(alpha, rows, stride, multipliers, count);
}

void sgd_update(float* params, const float* grad, float* velocity, std::int64_t count, float lr, float momentum,
                float l2, cudaStream_t stream) {
  if (count == 0) return;
  sgd_kernel<<<blocks_for(count), kThreads, 0, stream>>>(params, grad, velocity, count, lr, momentum, l2);
}

void squared_norm(const float* x, std::int64_t count, double* sum, cudaStream_t stream) {
  if (count == 0) return;
  squared_norm_kernel<<<blocks_for(count, kThreads) > 1024 ? 1024 : blocks_for(count), kThreads, 0, stream>>>(
      x, count, sum);
}

void row_squared_norms(const float* x, std::int64_t rows, std::int64_t cols, double add, double* out,
                       cudaStream_t stream) {
  if (rows == 0) return;
  row_squared_norms_kernel<<<blocks_for(rows * 32), kThreads, 0, stream>>>(x, rows, cols, add, out);
}

void block_dots(const float* w, const float* g, std::int64_t count, double* sums, cudaStream_t stream) {
  if (count == 0) return;
  block_dots_kernel<<<blocks_for(count, kThreads) > 1024 ? 1024 : blocks_for(count), kThreads, 0, stream>>>(
      w, g, count, sums);
}

void scale_add(float* w, const float* g, std::int64_t count, float a, float b, cudaStream_t stream) {
  if (count == 0) return;
  scale_add_kernel<<<blocks_for(count), kThreads, 0, stream>>>(w, g, count, a, b);
}

void fill(float* y, std::int64_t count, float value, cudaStream_t stream) {
  if (count == 0) return;
  fill_kernel<<<blocks_for(count), kThreads, 0, stream>>>(y, count, value);
}

void bn_statistics(const float* x, std::int64_t rows, std::int64_t C, double* sums, cudaStream_t stream) {
  if (C == 0) return;
  const dim3 block(kColumnTile, kColumnTile);
  bn_statistics_kernel<<<blocks_for(C, kColumnTile), block, 0, stream>>>(x, rows, C, sums);
}

void bn_prepare(const double* sums, std::int64_t C, bool train, bool update_running, double eps, double momentum,
                float* running_mean, float* running_var, const float* gamma, const float* beta, double* stats,
                cudaStream_t stream) {
  if (C == 0) return;
  bn_prepare_kernel<<<blocks_for(C), kThreads, 0, stream>>>(sums, C, train, update_running, eps, momentum, running_mean,
                                                            running_var, gamma, beta, stats);
}

void bn_apply(const float* x, std::int64_t rows, std::int64_t C, const double* stats, bool relu, float* y,
              cudaStream_t stream) {
  if (rows * C == 0) return;
  bn_apply_kernel<<<blocks_for(rows * C), kThreads, 0, stream>>>(x, rows, C, stats, relu, y);
}

void bn_backward_sums(const float* x, const float* dy, std::int64_t rows, std::int64_t C, const double* stats,
                      double* back, float* dgamma, float* dbeta, cudaStream_t stream) {
  if (C == 0) return;
  const dim3 block(kColumnTile, kColumnTile);
  bn_backward_sums_kernel<<<blocks_for(C, kColumnTile), block, 0, stream>>>(x, dy, rows, C, stats, back, dgamma,
                                                                              dbeta);
}

void bn_input_gradient(const float* x, const float* dy, std::int64_t rows, std::int64_t C, const double* stats,
                       const float* gamma, const double* sums, const double* back, bool train, float* dx,
                       cudaStream_t stream) {
  if (rows * C == 0) return;
  bn_input_gradient_kernel<<<blocks_for(rows * C), kThreads, 0, stream>>>(x, dy, rows, C, stats, gamma, sums, back,
                                                                          train, dx);
}

void compact_flags(const std::int32_t* flags, std::int64_t n, std::int32_t* index, std::int32_t* count,
                   cudaStream_t stream) {
  compact_kernel<<<1, kCompactThreads, 0, stream>>>(flags, n, index, count);
}

}  // namespace normscale::kernels
