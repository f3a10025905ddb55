// Gradient noise scale B_simple = tr(Sigma)/|G|^2 (McCandlish et al. 2018; ALGORITHMS.md §3) from the
// squared gradient norms at two batch sizes, e.g. a rank's local batch (Q/p) and the global one (Q).
//
// With E|g_B|^2 = |G|^2 + tr(Sigma)/B, two measurements give the unbiased estimates
//   |G|^2     = (B_big |g_big|^2 - B_small |g_small|^2) / (B_big - B_small),
//   tr(Sigma) = (|g_small|^2 - |g_big|^2) / (1/B_small - 1/B_big).
// Each is smoothed by its own exponential moving average (decay d: ema = d ema + (1 - d) x), with
// Adam-style bias correction (divided by 1 - d^t) so the first updates are not pulled towards 0,
// and B_simple is the ratio of the smoothed values (never the smoothed ratio, which is biased).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace normscale {

struct NoiseScaleEstimate {
  bool available = false;     // false until one update had two distinct batch sizes
  double gradient_sq = 0.0;   // smoothed |G|^2
  double trace_sigma = 0.0;   // smoothed tr(Sigma)
  double b_simple = 0.0;      // trace_sigma / gradient_sq; NaN when gradient_sq <= 0 (noise dominates)
  std::int64_t updates = 0;   // measurements folded into the averages
};

// The small-batch side of a data-parallel sample. Ranks hold different numbers of the batch's rows b_r (by one,
// or none when the batch is smaller than the rank count), and E|g_r|^2 = |G|^2 + tr(Sigma)/b_r, so the mean
// of |g_r|^2 over the ranks holding rows is a measurement at their harmonic mean batch size. From the
// allreduced sums of |g_r|^2, of the ranks holding rows, and of 1/b_r; no sample (size 0) unless two ranks or
// more hold rows (one rank's rows are the whole batch).
struct SmallBatchSample {
  double batch = 0.0;
  double grad_sq = 0.0;
};
SmallBatchSample small_batch_sample(double sum_grad_sq, double ranks_with_rows, double sum_inverse_rows);

class GradientNoiseScale {
 public:
  GradientNoiseScale() : GradientNoiseScale(0.99) {}
  // decay in [0, 1): 0 keeps only the latest measurement.
  explicit GradientNoiseScale(double decay);

  // g_small_sq = |g|^2 at batch b_small (for data-parallel: the mean over ranks of each rank's local
  // |g|^2), g_big_sq = |g|^2 at batch b_big (the allreduced gradient). Equal batch sizes (one rank)
  // carry no information: the averages are left alone and the current estimate is returned, which
  // is "not available" when no update ever had two sizes. So are gradients of exactly zero (a dead network).
  NoiseScaleEstimate update(double g_small_sq, double g_big_sq, double b_small, double b_big);

  NoiseScaleEstimate estimate() const;
  void reset();

  // The averages as checkpoints carry them (a resumed run goes on with them, as if never stopped): the two
  // moving averages, the bias correction's weight and the update count.
  std::vector<double> state() const;
  // Takes a state() back; throws naming what is wrong with one that no GradientNoiseScale could have.
  void restore(std::span<const double> state);

  double decay() const { return decay_; }

 private:
  double decay_;
  double gradient_ema_ = 0.0;
  double trace_ema_ = 0.0;
  double weight_ = 0.0;  // 1 - decay^t: the bias correction
  std::int64_t updates_ = 0;
};

}  // namespace normscale
