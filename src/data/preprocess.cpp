// Preprocessing modes; statistics come from train only, so validation and test stay unseen.
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

void scale01(DataSplits& splits) {
  float largest = 0.0f;
  for (const float v : splits.train.features) largest = std::max(largest, std::abs(v));
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

void standardize(DataSplits& splits) {
  const Dataset& train = splits.train;
  NS_CHECK(train.rows > 0,
           "data.preprocess = \"standardize\" needs training rows to compute means from, '{}' has none",
           train.name);
  const auto cols = static_cast<std::size_t>(train.cols);
  std::vector<double> mean(cols, 0.0), variance(cols, 0.0);
  for (Index r = 0; r < train.rows; ++r) {
    for (std::size_t j = 0; j < cols; ++j) mean[j] += train.row(r)[j];
  }
  for (double& m : mean) m /= static_cast<double>(train.rows);
  for (Index r = 0; r < train.rows; ++r) {
    for (std::size_t j = 0; j < cols; ++j)
      variance[j] += (train.row(r)[j] - mean[j]) * (train.row(r)[j] - mean[j]);
  }
  std::vector<double> inverse_sd(cols);
  for (std::size_t j = 0; j < cols; ++j) {
    const double sd = std::sqrt(variance[j] / static_cast<double>(train.rows));
    inverse_sd[j] = sd > 0.0 ? 1.0 / sd : 1.0;  // a constant feature is only centred
  }
  for (Dataset* part : {&splits.train, &splits.validation, &splits.test}) {
    for (Index r = 0; r < part->rows; ++r) {
      float* row = part->features.data() + r * part->cols;
      for (std::size_t j = 0; j < cols; ++j) row[j] = static_cast<float>((row[j] - mean[j]) * inverse_sd[j]);
    }
  }
}

}  // namespace

void check_preprocess_mode(const std::string& mode) {
  NS_CHECK(mode == "none" || mode == "scale01" || mode == "unit-norm" || mode == "standardize",
           "data.preprocess = \"{}\" is not a preprocessing mode; expected one of {}", mode, kModes);
}

void preprocess(DataSplits& splits, const std::string& mode) {
  check_preprocess_mode(mode);
  check_columns(splits);
  if (mode == "scale01") scale01(splits);
  if (mode == "unit-norm") unit_norm(splits);
  if (mode == "standardize") standardize(splits);
}

}  // namespace normscale
