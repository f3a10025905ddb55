// Input preprocessing, fitted on the training set and applied alike to every split.
#pragma once

#include "normscale/data/dataset.hpp"

#include <span>
#include <string>
#include <vector>

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

// What a mode needs to know about the training set, as sums over rows and one maximum, so that the parts of a
// sharded training set combine theirs into the whole set's: sums add up, maxima take the larger. Only what the
// mode uses is filled: count, sum and sum_squares (per feature) for "standardize", max_abs for "scale01".
struct PreprocessStats {
  double count = 0;                 // training rows
  std::vector<double> sum;          // per feature, standardize only
  std::vector<double> sum_squares;  // per feature, standardize only
  double max_abs = 0;               // largest |value|, scale01 only

  // The sums flat, [count, sum..., sum_squares...], to be summed across processes (one allreduce); max_abs
  // travels separately with a maximum.
  std::vector<double> to_vector() const;
  // The inverse of to_vector, with the combined maximum.
  static PreprocessStats from_vector(std::span<const double> sums, double max_abs);
  // Adds another part's statistics to these (the one-process form of the allreduces).
  void combine(const PreprocessStats& other);
};

// The statistics of this part of the training set for `mode` (every part must pass the same mode; a part with no
// rows gives zero sums of the right length).
PreprocessStats local_preprocess_stats(const Dataset& train, const std::string& mode);

// Applies `mode` to every split with the statistics of the whole training set (combined over all parts).
void apply_preprocess(DataSplits& splits, const std::string& mode, const PreprocessStats& global);

}  // namespace normscale
