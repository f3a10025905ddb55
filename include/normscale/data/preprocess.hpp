// Input preprocessing, fitted on the training set and applied alike to every split.
#pragma once

#include "normscale/data/dataset.hpp"

#include <string>

namespace normscale {

// Modes (data.preprocess):
//   "none"        features as loaded;
//   "scale01"     divide every split by the training set's largest |value| (bytes 0..255 -> [0, 1]);
//   "unit-norm"   each row scaled to unit L2 norm (zero rows stay zero), as the square-loss papers do;
//   "standardize" per-feature mean and standard deviation of train applied to all splits (a feature
//                 with standard deviation 0 is only centred).
void preprocess(DataSplits& splits, const std::string& mode);

// Throws (naming data.preprocess and the valid modes) unless `mode` is one of the above.
void check_preprocess_mode(const std::string& mode);

}  // namespace normscale
