// The GPU backend's kernels (everything but the GEMMs): one thread per element or per example, sums
// in double through a block reduction and one atomic per block. The arithmetic mirrors the CPU
// objectives in src/objective/ (double where they use double), so both paths agree to fp32 rounding.
#include "cuda/kernels.hpp"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <cmath>

namespace normscale::kernels {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(std::int64_t count, int threads = kThreads) {
  const std::int64_t blocks = (count + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535LL * 16 ? 65535LL * 16 : blocks));
}

// Adds the block's sum of `value` to *sum with one atomic.
__device__ void block_add(double value, double* sum) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const double total = Reduce(storage).Sum(value);
  if (threadIdx.x == 0 && total != 0.0) atomicAdd(sum, total);
}

__device__ void block_add(unsigned long long value, unsigned long long* sum) {
  using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const unsigned long long total = Reduce(storage).Sum(value);
  if (threadIdx.x == 0 && total != 0) atomicAdd(sum, total);
}

__device__ std::int64_t row_of(const RowTargets& t, std::int64_t k) {
  return t.rows != nullptr ? static_cast<std::int64_t>(t.rows[k]) : t.row_offset + k;
}

// Minnorm's y_i: the regression target, or +1 / -1 for the true / other classes.
__device__ double label_sign(const ObjectiveSpec& spec, const RowTargets& t, std::int64_t r, int i) {
  if (spec.task == MinnormKind::kRegression) return static_cast<double>(t.targets[r * t.target_cols + i]);
  const int label = t.labels[r];
  const bool positive = spec.task == MinnormKind::kBinary ? label == 1 : label == i;
  return positive ? 1.0 : -1.0;
}

// Square loss target t and weight w of output i (Square<T>::target).
__device__ void square_target(const ObjectiveSpec& spec, const RowTargets& t, std::int64_t r, int i, int C,
                              double& target, double& weight) {
  weight = 1.0;
  if (t.labels == nullptr) {
    target = static_cast<double>(t.targets[r * t.target_cols + i]);
    return;
  }
  const int label = t.labels[r];
  const double negative = spec.plus_minus_one ? -1.0 : 0.0;
  const bool is_true = C == 1 ? label == 1 : label == i;
  if (is_true) {
    target = spec.true_target;
    weight = spec.true_weight;
  } else {
    target = C == 1 ? (spec.plus_minus_one ? -spec.true_target : 0.0) : negative;
  }
}

__device__ double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }

// The reporting loss of one example (the objectives' loss_sum, per row).
__device__ double example_loss(const ObjectiveSpec& spec, const float* fk, int C, const RowTargets& t,
                               std::int64_t r) {
  double total = 0.0;
  switch (spec.kind) {
    case ObjectiveKind::kCrossEntropy: {
      const int label = t.labels[r];
      if (C == 1) return softplus(label == 1 ? -static_cast<double>(fk[0]) : static_cast<double>(fk[0]));
      double shift = static_cast<double>(fk[0]);
      for (int c = 1; c < C; ++c) shift = fmax(shift, static_cast<double>(fk[c]));
      double sum = 0.0;
      for (int c = 0; c < C; ++c) sum += exp(static_cast<double>(fk[c]) - shift);
      return log(sum) + shift - static_cast<double>(fk[label]);
    }
    case ObjectiveKind::kSquare:
      for (int i = 0; i < C; ++i) {
        double target = 0, weight = 0;
        square_target(spec, t, r, i, C, target, weight);
        const double d = static_cast<double>(fk[i]) - target;
        total += weight * d * d;
      }
      return total;
    case ObjectiveKind::kMinnorm:
      for (int i = 0; i < C; ++i) {
        const double y = label_sign(spec, t, r, i);
        const double fi = static_cast<double>(fk[i]);
        total += spec.task == MinnormKind::kRegression ? (y - fi) * (y - fi) : fmax(0.0, 1.0 - y * fi);
      }
      return total;
  }
  return total;
}

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
    out[i] = relu ? fmaxf(v, 0.0f) : v;
  }
}

__global__ void relu_mask_kernel(float* delta, const float* activation, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (!(activation[i] > 0.0f)) delta[i] = 0.0f;
  }
}

__global__ void output_gradient_kernel(ObjectiveSpec spec, const float* f, std::int64_t n, int C, RowTargets t,
                                       double* alpha, float scale, float* grad, double* loss_sum,
                                       std::int32_t* active, bool lagged_update) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  double loss = 0.0;
  if (k < n) {
    const std::int64_t r = row_of(t, k);
    const float* fk = f + k * C;
    float* gk = grad + k * C;
    const double s = static_cast<double>(scale);
    loss = example_loss(spec, fk, C, t, r);
    bool any_active = true;
    switch (spec.kind) {
      case ObjectiveKind::kCrossEntropy: {
        const int label = t.labels[r];
        if (C == 1) {
          const double p = 1.0 / (1.0 + exp(-static_cast<double>(fk[0])));
          gk[0] = static_cast<float>(s * (p - (label == 1 ? 1.0 : 0.0)));
          break;
        }
        float shift = fk[0];
        for (int c = 1; c < C; ++c) shift = fmaxf(shift, fk[c]);
        float sum = 0.0f;
        for (int c = 0; c < C; ++c) sum += expf(fk[c] - shift);
        const float factor = scale / sum;
        for (int c = 0; c < C; ++c) gk[c] = expf(fk[c] - shift) * factor;
        gk[label] -= scale;
        break;
      }
      case ObjectiveKind::kSquare:
        for (int i = 0; i < C; ++i) {
          double target = 0, weight = 0;
          square_target(spec, t, r, i, C, target, weight);
          gk[i] = static_cast<float>(2.0 * weight * (static_cast<double>(fk[i]) - target) * s);
        }
        break;
      case ObjectiveKind::kMinnorm: {
        const bool regression = spec.task == MinnormKind::kRegression;
        double* a = alpha + r * C;
        any_active = regression;
        for (int i = 0; i < C; ++i) {
          const double y = label_sign(spec, t, r, i);
          const double fi = static_cast<double>(fk[i]);
          const double ai = a[i];
          double g;
          if (regression) {
            g = -(ai + spec.rho * (y - fi));
          } else {
            g = -y * (ai + (ai > 0.0 ? spec.rho * (1.0 - y * fi) : 0.0));
            any_active = any_active || ai > 0.0;
          }
          gk[i] = static_cast<float>(g * s);
          if (lagged_update) {
            a[i] = regression ? ai + spec.s * (y - fi) : fmax(0.0, ai + spec.s * (1.0 - y * fi));
          }
        }
        break;
      }
    }
    if (active != nullptr) active[k] = any_active ? 1 : 0;
  }
  if (loss_sum != nullptr) block_add(loss, loss_sum);
}

__global__ void update_multipliers_kernel(ObjectiveSpec spec, const float* f, std::int64_t n, int C, RowTargets t,
                                          double* alpha) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (k >= n) return;
  const std::int64_t r = row_of(t, k);
  const bool regression = spec.task == MinnormKind::kRegression;
  double* a = alpha + r * C;
  for (int i = 0; i < C; ++i) {
    const double y = label_sign(spec, t, r, i);
    const double fi = static_cast<double>(f[k * C + i]);
    a[i] = regression ? a[i] + spec.s * (y - fi) : fmax(0.0, a[i] + spec.s * (1.0 - y * fi));
  }
}

__global__ void loss_and_errors_kernel(ObjectiveSpec spec, const float* f, std::int64_t n, int C, RowTargets t,
                                       bool classification, double* loss_sum, unsigned long long* errors) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  double loss = 0.0;
  unsigned long long wrong = 0;
  if (k < n) {
    const std::int64_t r = row_of(t, k);
    const float* fk = f + k * C;
    loss = example_loss(spec, fk, C, t, r);
    if (classification) {
      int predicted = 0;
      if (C == 1) {
        predicted = fk[0] > 0.0f ? 1 : 0;
      } else {
        for (int c = 1; c < C; ++c) {
          if (fk[c] > fk[predicted]) predicted = c;  // first maximum, as Eigen's maxCoeff
        }
      }
      wrong = predicted != t.labels[r] ? 1 : 0;
    }
  }
  block_add(loss, loss_sum);
  block_add(wrong, errors);
}

__global__ void lagrangian_kernel(ObjectiveSpec spec, const float* f, std::int64_t n, int C, RowTargets t,
                                  const double* alpha, double* sum) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  double total = 0.0;
  if (k < n) {
    const std::int64_t r = row_of(t, k);
    const bool regression = spec.task == MinnormKind::kRegression;
    const double* a = alpha + r * C;
    for (int i = 0; i < C; ++i) {
      const double y = label_sign(spec, t, r, i);
      const double fi = static_cast<double>(f[k * C + i]);
      const double c = regression ? y - fi : 1.0 - y * fi;
      const bool is_active = regression || a[i] > 0.0;
      total += a[i] * c + (is_active ? 0.5 * spec.rho * c * c : 0.0);
    }
  }
  block_add(total, sum);
}

__global__ void count_support_kernel(const double* alpha, std::int64_t rows, int C, unsigned long long* count) {
  const std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  unsigned long long support = 0;
  if (r < rows) {
    for (int i = 0; i < C; ++i) {
      if (alpha[r * C + i] > 0.0) {
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

__global__ void bn_prepare_kernel(const double* sums, std::int64_t C, bool train, double eps, double momentum,
                                  float* running_mean, float* running_var, const float* gamma, const float* beta,
                                  double* stats) {
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
    running_mean[c] = static_cast<float>((1 - m) * static_cast<double>(running_mean[c]) + m * mean);
    running_var[c] = static_cast<float>((1 - m) * static_cast<double>(running_var[c]) + m * var * n / (n - 1));
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
    y[i] = relu ? fmaxf(v, 0.0f) : v;
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

void output_gradient(const ObjectiveSpec& spec, const float* f, std::int64_t n, int C, RowTargets targets,
                     double* alpha, float scale, float* grad, double* loss_sum, std::int32_t* active,
                     bool lagged_update, cudaStream_t stream) {
  if (n == 0) return;
  output_gradient_kernel<<<blocks_for(n), kThreads, 0, stream>>>(spec, f, n, C, targets, alpha, scale, grad,
                                                                 loss_sum, active, lagged_update);
}

void update_multipliers(const ObjectiveSpec& spec, const float* f, std::int64_t n, int C, RowTargets targets,
                        double* alpha, cudaStream_t stream) {
  if (n == 0) return;
  update_multipliers_kernel<<<blocks_for(n), kThreads, 0, stream>>>(spec, f, n, C, targets, alpha);
}

void loss_and_errors(const ObjectiveSpec& spec, const float* f, std::int64_t n, int C, RowTargets targets,
                     bool classification, double* loss_sum, unsigned long long* errors, cudaStream_t stream) {
  if (n == 0) return;
  loss_and_errors_kernel<<<blocks_for(n), kThreads, 0, stream>>>(spec, f, n, C, targets, classification, loss_sum,
                                                                 errors);
}

void lagrangian_data_sum(const ObjectiveSpec& spec, const float* f, std::int64_t n, int C, RowTargets targets,
                         const double* alpha, double* sum, cudaStream_t stream) {
  if (n == 0) return;
  lagrangian_kernel<<<blocks_for(n), kThreads, 0, stream>>>(spec, f, n, C, targets, alpha, sum);
}

void count_support(const double* alpha, std::int64_t rows, int C, unsigned long long* count, cudaStream_t stream) {
  if (rows == 0) return;
  count_support_kernel<<<blocks_for(rows), kThreads, 0, stream>>>(alpha, rows, C, count);
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

void fill(float* y, std::int64_t count, float value, cudaStream_t stream) {
  if (count == 0) return;
  fill_kernel<<<blocks_for(count), kThreads, 0, stream>>>(y, count, value);
}

void bn_statistics(const float* x, std::int64_t rows, std::int64_t C, double* sums, cudaStream_t stream) {
  if (C == 0) return;
  const dim3 block(kColumnTile, kColumnTile);
  bn_statistics_kernel<<<blocks_for(C, kColumnTile), block, 0, stream>>>(x, rows, C, sums);
}

void bn_prepare(const double* sums, std::int64_t C, bool train, double eps, double momentum, float* running_mean,
                float* running_var, const float* gamma, const float* beta, double* stats, cudaStream_t stream) {
  if (C == 0) return;
  bn_prepare_kernel<<<blocks_for(C), kThreads, 0, stream>>>(sums, C, train, eps, momentum, running_mean, running_var,
                                                            gamma, beta, stats);
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
