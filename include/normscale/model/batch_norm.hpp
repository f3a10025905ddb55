// Batch normalisation over features (dense) or channels (planar images), without affine parameters
// by default; synchronised across ranks through an injected reducer, never through comm/.
#pragma once

#include "normscale/model/layer.hpp"

#include <functional>
#include <span>
#include <vector>

namespace normscale {

// Sums a buffer over all ranks in place (the trainer passes comm.allreduce_sum). An empty reducer
// means per-rank statistics: the layer then sees only its own rows, as PyTorch DDP does.
using StatisticsReducer = std::function<void(std::span<double>)>;

struct BatchNormOptions {
  bool affine = false;      // gamma and beta in the flat buffer (the papers use none)
  double eps = 1e-5;        // added to the biased batch variance
  double momentum = 0.1;    // running = (1 - momentum) running + momentum batch (PyTorch's convention)
  StatisticsReducer reducer{};  // set for sync-bn; called in training forward and in backward
};

// Training mode normalises with the statistics of the (global, under sync-bn) batch and updates the
// running mean and unbiased variance; eval mode uses the running statistics. One forward in
// training mode reduces [count, sum, sum of squares] (3 x channels doubles); its backward reduces
// [sum dy, sum dy x_hat] (2 x channels), so that sync-bn on p ranks equals one rank on the global
// batch. Parameter gradients (gamma, beta) stay per rank: the trainer reduces the flat gradient.
template <class T>
class BatchNorm final : public Layer<T> {
 public:
  // `channels` groups of `spatial` consecutive features each: a dense layer's outputs are
  // (width, 1); a planar C x H x W image is (C, H * W).
  BatchNorm(Index channels, Index spatial, BatchNormOptions options = {});

  std::string kind() const override;
  Index parameter_count() const override { return options_.affine ? 2 * channels_ : 0; }
  void bind(T* params, T* grads) override;
  void initialize(const InitSpec& spec, RandomStream& rng) override;
  void forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) override;
  void backward(const Matrix<T>& in, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) override;

  Index channels() const { return channels_; }
  Index spatial() const { return spatial_; }
  const BatchNormOptions& options() const { return options_; }
  bool synchronized() const { return static_cast<bool>(options_.reducer); }
  // Replaces the reducer (e.g. when the trainer wires sync-bn after building the model).
  void set_reducer(StatisticsReducer reducer) { options_.reducer = std::move(reducer); }

  // State, not parameters: checkpoints save and restore these (one entry per channel).
  std::vector<std::vector<T>*> state() override { return {&running_mean_, &running_var_}; }
  std::vector<T>& running_mean() { return running_mean_; }
  const std::vector<T>& running_mean() const { return running_mean_; }
  std::vector<T>& running_var() { return running_var_; }
  const std::vector<T>& running_var() const { return running_var_; }
  // Statistics used by the last forward (batch ones in training, running ones in eval).
  const std::vector<double>& last_mean() const { return mean_; }
  const std::vector<double>& last_inv_std() const { return inv_std_; }

 private:
  void reduce(std::span<double> sums) const;
  void check_width(const Matrix<T>& in) const;
  // The passes over the batch, on channels or rows [begin, end) (split over the GEMMs' team; batch_norm.cpp).
  void add_statistics(const Matrix<T>& in, double* sum, double* sum_sq, Index begin, Index end) const;
  void normalise_rows(const Matrix<T>& in, Matrix<T>& out, Index begin, Index end) const;
  void add_gradient_sums(const Matrix<T>& in, const Matrix<T>& dout, double* sum_dy, double* sum_dy_xhat,
                         Index begin, Index end) const;
  void input_gradient_rows(const Matrix<T>& in, const Matrix<T>& dout, const double* sum_dy,
                           const double* sum_dy_xhat, Matrix<T>& din, Index begin, Index end) const;

  Index channels_;
  Index spatial_;
  BatchNormOptions options_;
  T* gamma_ = nullptr;
  T* beta_ = nullptr;
  T* dgamma_ = nullptr;
  T* dbeta_ = nullptr;
  std::vector<T> running_mean_;
  std::vector<T> running_var_;
  // Cached by forward for backward: per-channel mean and 1/sqrt(var + eps), and the mode used.
  std::vector<double> mean_;
  std::vector<double> inv_std_;
  double count_ = 0;  // values per channel in the last training batch (global under sync-bn)
  Mode last_mode_ = Mode::kEval;
  std::vector<double> sums_;  // scratch for the reductions
};

}  // namespace normscale
