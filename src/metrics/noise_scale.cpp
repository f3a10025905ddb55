// Gradient noise scale: two-batch-size estimates of |G|^2 and tr(Sigma), smoothed.
#include "normscale/metrics/noise_scale.hpp"

#include "normscale/core/error.hpp"

#include <cmath>
#include <limits>

namespace normscale {

SmallBatchSample small_batch_sample(double sum_grad_sq, double ranks_with_rows, double sum_inverse_rows) {
  if (ranks_with_rows < 2.0) return {};  // one rank's rows are the whole batch: no second size
  return {ranks_with_rows / sum_inverse_rows, sum_grad_sq / ranks_with_rows};
}

GradientNoiseScale::GradientNoiseScale(double decay) : decay_(decay) {
  NS_CHECK(decay >= 0.0 && decay < 1.0, "noise scale EMA decay must be in [0, 1), got {}", decay);
}

NoiseScaleEstimate GradientNoiseScale::update(double g_small_sq, double g_big_sq, double b_small,
                                              double b_big) {
  NS_CHECK(b_small > 0.0 && b_big > 0.0, "noise scale batch sizes must be > 0, got {} and {}", b_small, b_big);
  NS_CHECK(b_small <= b_big, "noise scale needs b_small <= b_big, got {} > {}; hint: the local batch is "
           "the small one", b_small, b_big);
  NS_CHECK(std::isfinite(g_small_sq) && std::isfinite(g_big_sq) && g_small_sq >= 0.0 && g_big_sq >= 0.0,
           "squared gradient norms must be finite and >= 0, got {} and {}", g_small_sq, g_big_sq);
  if (b_small == b_big || (g_small_sq == 0.0 && g_big_sq == 0.0)) return estimate();
  const double gradient_sq = (b_big * g_big_sq - b_small * g_small_sq) / (b_big - b_small);
  const double trace_sigma = (g_small_sq - g_big_sq) / (1.0 / b_small - 1.0 / b_big);
  gradient_ema_ = decay_ * gradient_ema_ + (1.0 - decay_) * gradient_sq;
  trace_ema_ = decay_ * trace_ema_ + (1.0 - decay_) * trace_sigma;
  weight_ = decay_ * weight_ + (1.0 - decay_);
  ++updates_;
  return estimate();
}

NoiseScaleEstimate GradientNoiseScale::estimate() const {
  NoiseScaleEstimate result;
  result.updates = updates_;
  if (updates_ == 0) return result;
  result.available = true;
  result.gradient_sq = gradient_ema_ / weight_;
  result.trace_sigma = trace_ema_ / weight_;
  result.b_simple = result.gradient_sq > 0.0 ? result.trace_sigma / result.gradient_sq
                                             : std::numeric_limits<double>::quiet_NaN();
  return result;
}

std::vector<double> GradientNoiseScale::state() const {
  return {gradient_ema_, trace_ema_, weight_, static_cast<double>(updates_)};
}

void GradientNoiseScale::restore(std::span<const double> state) {
  NS_CHECK(state.size() == 4 && std::isfinite(state[0]) && std::isfinite(state[1]) && state[2] >= 0.0 &&
               state[2] <= 1.0 && state[3] >= 0.0 && state[3] < 9007199254740992.0 &&
               state[3] == std::floor(state[3]) && (state[3] == 0.0) == (state[2] == 0.0),
           "noise scale state: expected 4 values (two finite averages, a weight in [0, 1] that is 0 exactly when the "
           "update count is, a whole update count >= 0), got {} value(s)", state.size());
  gradient_ema_ = state[0];
  trace_ema_ = state[1];
  weight_ = state[2];
  updates_ = static_cast<std::int64_t>(state[3]);
}

void GradientNoiseScale::reset() {
  gradient_ema_ = 0.0;
  trace_ema_ = 0.0;
  weight_ = 0.0;
  updates_ = 0;
}

}  // namespace normscale
