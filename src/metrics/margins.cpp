// Margins of f/rho: per-example values, fixed-bin histograms and their percentiles.
#include "normscale/metrics/margins.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace normscale {

namespace {

void check_range(const HistogramRange& range, const char* what) {
  NS_CHECK(range.bins >= 1 && std::isfinite(range.low) && std::isfinite(range.high) && range.high > range.low,
           "{} histogram needs bins >= 1 and finite low < high, got bins {} and [{}, {}]", what, range.bins,
           range.low, range.high);
}

// Margin of row r of outputs already divided by rho.
double row_margin(const Eigen::Ref<const Matrix<double>>& outputs, Index r, std::int32_t label) {
  if (outputs.cols() == 1) {
    NS_CHECK(label == 0 || label == 1,
             "binary margins need labels 0 or 1 (1 is the positive class), got {} in row {}", label, r);
    return (label == 1 ? 1.0 : -1.0) * outputs(r, 0);
  }
  NS_CHECK(label >= 0 && label < outputs.cols(), "label {} of row {} is outside [0, {})", label, r,
           outputs.cols());
  double other = -std::numeric_limits<double>::infinity();
  for (Index j = 0; j < outputs.cols(); ++j) {
    if (j != label) other = std::max(other, outputs(r, j));
  }
  return outputs(r, label) - other;
}

void check_inputs(const Eigen::Ref<const Matrix<double>>& outputs, std::span<const std::int32_t> labels,
                  double rho) {
  NS_CHECK(rho > 0.0 && std::isfinite(rho), "margins need a finite rho > 0, got {}", rho);
  NS_CHECK(static_cast<Index>(labels.size()) == outputs.rows(), "margins got {} labels for {} output rows",
           labels.size(), outputs.rows());
  NS_CHECK(outputs.cols() >= 1, "margins need at least one output column");
  NS_CHECK(outputs.allFinite(), "network outputs hold a non-finite value; hint: training diverged");
}

}  // namespace

Index histogram_slot(const HistogramRange& range, double value) {
  if (value < range.low) return 0;
  if (value > range.high) return range.bins + 1;
  const auto bin = static_cast<Index>(std::floor((value - range.low) / range.bin_width()));
  return 1 + std::min(bin, range.bins - 1);
}

std::vector<double> percentiles(std::vector<double> values, std::span<const double> qs) {
  std::sort(values.begin(), values.end());
  std::vector<double> result;
  for (const double q : qs) {
    NS_CHECK(q >= 0.0 && q <= 100.0, "percentile must be in [0, 100], got {}", q);
    if (values.empty()) {
      result.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const double position = q / 100.0 * static_cast<double>(values.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, values.size() - 1);
    const double fraction = position - static_cast<double>(below);
    result.push_back(values[below] + fraction * (values[above] - values[below]));
  }
  return result;
}

std::vector<double> example_margins_rows(const Eigen::Ref<const Matrix<double>>& outputs,
                                         std::span<const std::int32_t> labels, double rho) {
  check_inputs(outputs, labels, rho);
  std::vector<double> margins(static_cast<std::size_t>(outputs.rows()));
  for (Index r = 0; r < outputs.rows(); ++r) {
    margins[static_cast<std::size_t>(r)] = row_margin(outputs, r, labels[static_cast<std::size_t>(r)]) / rho;
  }
  return margins;
}

MarginStats::MarginStats(HistogramRange margin_range, HistogramRange magnitude_range)
    : margin_range_(margin_range),
      magnitude_range_(magnitude_range),
      min_margin_(std::numeric_limits<double>::infinity()) {
  check_range(margin_range_, "margin");
  check_range(magnitude_range_, "output magnitude");
  sums_.assign(static_cast<std::size_t>(2 + margin_range_.bins + 2 + magnitude_range_.bins + 2), 0.0);
}

void MarginStats::accumulate_rows(const Eigen::Ref<const Matrix<double>>& outputs,
                                  std::span<const std::int32_t> labels, double rho) {
  check_inputs(outputs, labels, rho);
  for (Index r = 0; r < outputs.rows(); ++r) {
    add(row_margin(outputs, r, labels[static_cast<std::size_t>(r)]) / rho, outputs.row(r).norm() / rho);
  }
}

void MarginStats::add(double margin, double magnitude) {
  const std::size_t margin_offset = 2;
  const std::size_t magnitude_offset = margin_offset + static_cast<std::size_t>(margin_range_.bins + 2);
  sums_[0] += 1.0;
  sums_[1] += margin;
  sums_[margin_offset + static_cast<std::size_t>(histogram_slot(margin_range_, margin))] += 1.0;
  sums_[magnitude_offset + static_cast<std::size_t>(histogram_slot(magnitude_range_, magnitude))] += 1.0;
  min_margin_ = std::min(min_margin_, margin);
}

double MarginStats::mean_margin() const {
  return sums_[0] > 0.0 ? sums_[1] / sums_[0] : std::numeric_limits<double>::quiet_NaN();
}

std::span<const double> MarginStats::margin_counts() const {
  return std::span<const double>(sums_).subspan(2, static_cast<std::size_t>(margin_range_.bins + 2));
}

std::span<const double> MarginStats::magnitude_counts() const {
  return std::span<const double>(sums_).subspan(static_cast<std::size_t>(2 + margin_range_.bins + 2),
                                                static_cast<std::size_t>(magnitude_range_.bins + 2));
}

}  // namespace normscale
