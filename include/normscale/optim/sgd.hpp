// SGD with heavy-ball momentum (PyTorch's form v = m v + g, W -= eta v) on the flat parameter buffer,
// with an L2 term c W added to the gradient: weight decay lambda_t, or Minnorm's norm term (c = 1).
#pragma once

#include "normscale/core/types.hpp"

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace normscale {

// NMGD's vanishing weight decay (Theory III §12): lambda_t = lambda_0 / (1 + t)^a; a = 0 is constant.
inline double decay_at(double lambda0, double power, Index step) {
  return power == 0.0 ? lambda0 : lambda0 / std::pow(1.0 + static_cast<double>(step), power);
}

// Linear learning-rate warmup (Goyal et al. 2017): lr * (t + 1) / W for the first W steps, then lr.
inline double warmup_factor(Index step, Index warmup_steps) {
  return step < warmup_steps ? static_cast<double>(step + 1) / static_cast<double>(warmup_steps) : 1.0;
}

template <class T>
class Sgd {
 public:
  Sgd(double lr, double momentum) : lr_(lr), momentum_(momentum) {}

  // params -= lr * (momentum-filtered (grad + l2 * params)). `grad` is left unchanged. Where `rounded` is not empty
  // (float parameters, bf16 products: Network::update_parameters), each new parameter's bf16_bits goes into it too.
  void step(std::vector<T>& params, const std::vector<T>& grad, double l2, std::span<std::uint16_t> rounded = {});

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  std::vector<T>& velocity() { return velocity_; }

 private:
  double lr_;
  double momentum_;
  std::vector<T> velocity_;
};

}  // namespace normscale
