// Preprocessing modes; statistics come from train only, so validation and test stay unseen. They are kept as
// sums so that the parts of a sharded training set can add theirs up (the caller reduces across ranks).
#include "normscale/data/preprocess.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace normscale {

namespace {

constexpr const char* kModes = "\"none\", \"scale01\", \"unit-norm\", \"standardize\"";

void check_columns(const DataSplits& splits) {
  for (const Dataset* part : {&splits.validation, &splits.test}) {
    NS_CHECK(part->rows == 0 || part->cols == splits.train.cols,
             "'{}' has {} features per example but the training set '{}' has {}; hint: all splits must have the "
             "same columns",
             part->name, part->cols, splits.train.name, splits.train.cols);
  }
}

void scale01(DataSplits& splits, const PreprocessStats& global) {
  // max_abs came from a float, so this is the float division of the one-process code.
  const auto largest = static_cast<float>(global.max_abs);
  if (largest == 0.0f) return;  // all-zero training inputs: nothing sensible to scale by
  for (Dataset* part : {&splits.train, &splits.validation, &splits.test}) {
    for (float& v : part->features) v /= largest;
  }
}

void unit_norm(DataSplits& splits) {
  for (Dataset* part : {&splits.train, &splits.validation, &splits.test}) {
    for (Index r = 0; r < part->rows; ++r) {
      float* row = part->features.data() + r * part->cols;
      double squares = 0.0;
      for (Index j = 0; j < part->cols; ++j) squares += double{row[j]} * row[j];
      if (squares == 0.0) continue;
      const double scale = 1.0 / std::sqrt(squares);
      for (Index j = 0; j < part->cols; ++j) row[j] = static_cast<float>(row[j] * scale);
    }
  }
}

void standardize(DataSplits& splits, const PreprocessStats& global) {
  NS_CHECK(global.count > 0,
           "data.preprocess = \"standardize\" needs training rows to compute means from, '{}' has none",
           splits.train.name);
  const auto cols = static_cast<std::size_t>(splits.train.cols);
  NS_CHECK(global.sum.size() == cols && global.sum_squares.size() == cols,
           "data.preprocess = \"standardize\": statistics of {} features for '{}', which has {}; expected the "
           "statistics of this training set",
           global.sum.size(), splits.train.name, cols);
  std::vector<double> mean(cols), inverse_sd(cols);
  for (std::size_t j = 0; j < cols; ++j) {
    mean[j] = global.sum[j] / global.count;
    const double mean_square = global.sum_squares[j] / global.count;
    // E[x^2] - mean^2 in double: float inputs carry 24 bits, so the cancellation loses nothing that the data
    // had. A variance at the rounding level of E[x^2] is a constant feature and is only centred; dividing by
    // it would blow rounding noise up to unit size.
    const double variance = mean_square - mean[j] * mean[j];
    const bool constant = variance <= 1e-12 * mean_square;
    inverse_sd[j] = constant ? 1.0 : 1.0 / std::sqrt(variance);
  }
  for (Dataset* part : {&splits.train, &splits.validation, &splits.test}) {
    for (Index r = 0; r < part->rows; ++r) {
      float* row = part->features.data() + r * part->cols;
      for (std::size_t j = 0; j < cols; ++j) row[j] = static_cast<float>((row[j] - mean[j]) * inverse_sd[j]);
    }
  }
}

}  // namespace

std::vector<double> PreprocessStats::to_vector() const {
  std::vector<double> flat;
  flat.reserve(1 + sum.size() + sum_squares.size());
  flat.push_back(count);
  flat.insert(flat.end(), sum.begin(), sum.end());
  flat.insert(flat.end(), sum_squares.begin(), sum_squares.end());
  return flat;
}

PreprocessStats PreprocessStats::from_vector(std::span<const double> sums, double max_abs) {
  NS_CHECK(!sums.empty() && sums.size() % 2 == 1,
           "PreprocessStats::from_vector: {} values; expected [count, sum..., sum_squares...] (an odd number)",
           sums.size());
  PreprocessStats stats;
  stats.count = sums[0];
  const std::size_t cols = (sums.size() - 1) / 2;
  stats.sum.assign(sums.begin() + 1, sums.begin() + 1 + static_cast<std::ptrdiff_t>(cols));
  stats.sum_squares.assign(sums.begin() + 1 + static_cast<std::ptrdiff_t>(cols), sums.end());
  stats.max_abs = max_abs;
  return stats;
}

void PreprocessStats::combine(const PreprocessStats& other) {
  NS_CHECK(sum.size() == other.sum.size() && sum_squares.size() == other.sum_squares.size(),
           "PreprocessStats::combine: statistics of {} and {} features; expected both parts to use the same mode "
           "on the same columns",
           sum.size(), other.sum.size());
  count += other.count;
  for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += other.sum[j];
  for (std::size_t j = 0; j < sum_squares.size(); ++j) sum_squares[j] += other.sum_squares[j];
  max_abs = std::max(max_abs, other.max_abs);
}

PreprocessStats local_preprocess_stats(const Dataset& train, const std::string& mode) {
  check_preprocess_mode(mode);
  PreprocessStats stats;
  stats.count = static_cast<double>(train.rows);
  if (mode == "scale01") {
    float largest = 0.0f;
    for (const float v : train.features) largest = std::max(largest, std::abs(v));
    stats.max_abs = largest;
  }
  if (mode == "standardize") {
    const auto cols = static_cast<std::size_t>(train.cols);
    stats.sum.assign(cols, 0.0);
    stats.sum_squares.assign(cols, 0.0);
    for (Index r = 0; r < train.rows; ++r) {
      const float* row = train.row(r);
      for (std::size_t j = 0; j < cols; ++j) {
        stats.sum[j] += row[j];
        stats.sum_squares[j] += double{row[j]} * row[j];
      }
    }
  }
  return stats;
}

void apply_preprocess(DataSplits& splits, const std::string& mode, const PreprocessStats& global) {
  check_preprocess_mode(mode);
  check_columns(splits);
  if (mode == "scale01") scale01(splits, global);
  if (mode == "unit-norm") unit_norm(splits);
  if (mode == "standardize") standardize(splits, global);
}

void check_preprocess_mode(const std::string& mode) {
  NS_CHECK(mode == "none" || mode == "scale01" || mode == "unit-norm" || mode == "standardize",
           "data.preprocess = \"{}\" is not a preprocessing mode; expected one of {}", mode, kModes);
}

void preprocess(DataSplits& splits, const std::string& mode) {
  check_preprocess_mode(mode);
  check_columns(splits);
  apply_preprocess(splits, mode, local_preprocess_stats(splits.train, mode));
}

}  // namespace normscale
