// Launchers of the few kernels the GPU backend needs besides cuBLAS and the objectives' rules
// (device_example_objective.cuh): gather, fused bias+activation, the ReLU mask of the backward pass,
// batch norm, the fused SGD update and reductions. Plain pointers and a stream; callers check the launch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace normscale::kernels {

// x[k, :] = features[rows[k], :].
void gather_rows(const float* features, std::int64_t cols, const std::int32_t* rows, std::int64_t n, float* x,
                 cudaStream_t stream);
// out[r, j] = act(out[r, j] + bias[j]) with act = ReLU when relu, identity otherwise; bias may be null.
void bias_activation(float* out, const float* bias, std::int64_t rows, std::int64_t cols, bool relu,
                     cudaStream_t stream);
// delta[i] = 0 where activation[i] <= 0 (the ReLU's backward, from its output).
void relu_mask(float* delta, const float* activation, std::int64_t count, cudaStream_t stream);
// dst[k, :] = src[index[k], :] for k < count, where count is read from the device (*device_count).
void gather_rows_counted(const float* src, std::int64_t cols, const std::int32_t* index, const std::int32_t* device_count,
                         std::int64_t capacity, float* dst, cudaStream_t stream);

// *count += rows of alpha (rows x stride) with any of their first `multipliers` entries > 0.
void count_support(const double* alpha, std::int64_t rows, int stride, int multipliers, unsigned long long* count,
                   cudaStream_t stream);

// Batch norm over the C columns of a row-major (rows x C) batch, mirroring BatchNorm<float> of
// model/ (statistics and per-channel constants in double, running statistics stored as float).
// sums (3C) = [count | column sums | column sums of squares], count = rows in every entry (the layout
// BatchNorm reduces over ranks under sync-bn). rows may be 0 (all zero).
void bn_statistics(const float* x, std::int64_t rows, std::int64_t C, double* sums, cudaStream_t stream);
// Per channel. train: mean and 1/sqrt(var + eps) from sums (biased var), and, where update_running, the running
// statistics updated with momentum (unbiased var); eval: both from the running statistics. Then the affine map
// y = x scale + shift (gamma and beta folded in when not null). stats (4C) = [mean | inv_std | scale | shift].
void bn_prepare(const double* sums, std::int64_t C, bool train, bool update_running, double eps, double momentum,
                float* running_mean, float* running_var, const float* gamma, const float* beta, double* stats,
                cudaStream_t stream);
// y = act(x scale_c + shift_c) with act = ReLU when relu, identity otherwise (y may not alias x).
void bn_apply(const float* x, std::int64_t rows, std::int64_t C, const double* stats, bool relu, float* y,
              cudaStream_t stream);
// back (2C) = [sum of dy | sum of dy x_hat] over the rows; dgamma / dbeta (optional, float) get the
// same sums (this rank's rows: the flat gradient's reduction sums them over ranks).
void bn_backward_sums(const float* x, const float* dy, std::int64_t rows, std::int64_t C, const double* stats,
                      double* back, float* dgamma, float* dbeta, cudaStream_t stream);
// dx = gamma inv_std (dy - sum_dy / n - x_hat sum_dy_xhat / n) with n = sums[0] (train), or
// dx = gamma inv_std dy (eval: fixed statistics). gamma may be null (1). dx may alias dy.
void bn_input_gradient(const float* x, const float* dy, std::int64_t rows, std::int64_t C, const double* stats,
                       const float* gamma, const double* sums, const double* back, bool train, float* dx,
                       cudaStream_t stream);

// SGD with heavy-ball momentum and an L2 term, PyTorch's form, in one pass over the flat buffers:
// momentum == 0: p -= lr (g + c p); else v = m v + g + c p, p -= lr v.
void sgd_update(float* params, const float* grad, float* velocity, std::int64_t count, float lr, float momentum,
                float l2, cudaStream_t stream);
// out[r] = add + sum_j x[r, j]^2 in double for the rows of a row-major (rows x cols) matrix: one warp per row.
void row_squared_norms(const float* x, std::int64_t rows, std::int64_t cols, double add, double* out,
                       cudaStream_t stream);
// *sum += sum of x[i]^2 in double.
void squared_norm(const float* x, std::int64_t count, double* sum, cudaStream_t stream);
// index[0..*count) = the positions k < n with flags[k] != 0, in increasing order (one block).
void compact_flags(const std::int32_t* flags, std::int64_t n, std::int32_t* index, std::int32_t* count,
                   cudaStream_t stream);
// y[i] = value.
// Lagrange normalization: adds <w, w>, <w, g>, <g, g> to sums[0..2]; w <- a w + b g.
void block_dots(const float* w, const float* g, std::int64_t count, double* sums, cudaStream_t stream);
void scale_add(float* w, const float* g, std::int64_t count, float a, float b, cudaStream_t stream);
void fill(float* y, std::int64_t count, float value, cudaStream_t stream);

}  // namespace normscale::kernels
