// Margins of the normalized outputs f/rho (ALGORITHMS.md §3): per example, and as a summary that
// ranks combine by summing one flat buffer and taking the minimum of one value.
//
// Margin of example n, with f_n the network output row and rho > 0 (e.g. prod_l ||W_l||_F):
//   binary (one output column):  y_n f_n / rho, y_n = +1 for label 1 and -1 for label 0;
//   multi-class (C >= 2 columns): (f_{n,y} - max_{j != y} f_{n,j}) / rho.
// The output magnitude |f_n| is ||f_n||_2 / rho (the absolute value for one column).
//
// Distributed use: accumulate each rank's rows, allreduce summable() with a sum and min_margin()
// with a min (or neg_min_margin() with a max), set_min_margin() the result, then read the summary.
// Percentiles come from the histogram: linear interpolation inside the bin that holds the quantile,
// so the error is at most one bin width (high - low) / bins; a quantile that falls below low or
// above high (the underflow/overflow slots) is reported as low or high.
#pragma once

#include "normscale/core/types.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace normscale {

// Fixed bins [low + i w, low + (i+1) w), w = (high - low) / bins; high itself falls in the last bin.
struct HistogramRange {
  double low = 0.0;
  double high = 1.0;
  Index bins = 100;

  double bin_width() const { return (high - low) / static_cast<double>(bins); }
};

// Slot of a value in a counts array of bins + 2 entries: 0 underflow, 1..bins, bins + 1 overflow.
Index histogram_slot(const HistogramRange& range, double value);

// The q-th percentiles (each q in [0, 100]) of `values`, interpolated linearly between the closest ranks as numpy's
// default does (NaN when empty): exact, where a histogram's bins were off by up to a bin's width.
std::vector<double> percentiles(std::vector<double> values, std::span<const double> qs);

// Per-example margins of f/rho (see the top of this file).
template <class Derived>
std::vector<double> example_margins(const Eigen::MatrixBase<Derived>& outputs,
                                    std::span<const std::int32_t> labels, double rho);
std::vector<double> example_margins_rows(const Eigen::Ref<const Matrix<double>>& outputs,
                                         std::span<const std::int32_t> labels, double rho);

template <class Derived>
std::vector<double> example_margins(const Eigen::MatrixBase<Derived>& outputs,
                                    std::span<const std::int32_t> labels, double rho) {
  return example_margins_rows(outputs.template cast<double>(), labels, rho);
}

class MarginStats {
 public:
  MarginStats(HistogramRange margin_range, HistogramRange magnitude_range);

  // Adds rows of outputs (rows x C, or rows x 1 for binary) with their labels.
  template <class Derived>
  void accumulate(const Eigen::MatrixBase<Derived>& outputs, std::span<const std::int32_t> labels,
                  double rho) {
    accumulate_rows(outputs.template cast<double>(), labels, rho);
  }
  void accumulate_rows(const Eigen::Ref<const Matrix<double>>& outputs,
                       std::span<const std::int32_t> labels, double rho);
  // Adds one example's margin and magnitude (of f/rho).
  void add(double margin, double magnitude);

  // Summable buffer, allreduced (sum) in place by the caller. Layout:
  //   [ examples, margin sum | margin counts (margin bins + 2) | magnitude counts (bins + 2) ].
  std::vector<double>& summable() { return sums_; }
  const std::vector<double>& summable() const { return sums_; }

  // Combined by min across ranks (+inf when no examples); or combine -min by max.
  double min_margin() const { return min_margin_; }
  double neg_min_margin() const { return -min_margin_; }
  void set_min_margin(double value) { min_margin_ = value; }

  double examples() const { return sums_[0]; }
  double mean_margin() const;  // NaN when empty
  std::span<const double> margin_counts() const;     // bins + 2 slots (see histogram_slot)
  std::span<const double> magnitude_counts() const;  // bins + 2 slots
  const HistogramRange& margin_range() const { return margin_range_; }
  const HistogramRange& magnitude_range() const { return magnitude_range_; }

 private:
  HistogramRange margin_range_;
  HistogramRange magnitude_range_;
  std::vector<double> sums_;
  double min_margin_;
};

}  // namespace normscale
