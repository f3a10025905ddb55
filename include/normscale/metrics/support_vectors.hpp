// Minnorm's support vectors (examples with a nonzero multiplier): CSV export, ranking and statistics.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/objective/multiplier_store.hpp"

#include <string>
#include <vector>

namespace normscale {

// Classification multipliers are >= 0 and an example supports the solution when one is > 0;
// regression multipliers (equality constraints) have either sign, so any nonzero one counts.
enum class SupportRule { kPositive, kNonZero };

SupportRule support_rule_for(const Dataset& train);

// Writes `index,label,alpha_0,...,alpha_{k-1}` and one row per support vector of the store, in
// ascending global id; label is the class label (empty for regression); alphas printed "%.9g".
// The store's ids must be rows of `train`. Written to a temporary name and renamed into place.
void write_support_vectors_csv(const std::string& path, const MultiplierStore& store,
                               const Dataset& train);

// Global ids of up to n examples with the largest sum_i |alpha_i| (zero sums excluded), largest
// first, ties in ascending id.
std::vector<Index> top_support_vectors(const MultiplierStore& store, Index n);

// Multiplier statistics of one store. Counts and sums (not means) are kept so that the stores of all
// ranks can be combined by summing (max by max) before the derived values are read.
struct AlphaStats {
  Index examples = 0;                     // examples in the store
  Index support = 0;                      // support vectors among them
  std::vector<Index> per_output_support;  // [i]: examples whose alpha_i counts (> 0, or != 0)
  Index counted_alphas = 0;               // multipliers that count, over all examples and outputs
  double alpha_sum = 0.0;                 // sum of |alpha| over those
  double max_alpha = 0.0;                 // largest |alpha| over those (0 when none)

  double support_fraction() const;  // support / examples (0 for an empty store)
  double mean_alpha() const;        // alpha_sum / counted_alphas (0 when none)
};

AlphaStats alpha_stats(const MultiplierStore& store, SupportRule rule = SupportRule::kPositive);

// The multiplier histogram's edges: the decades 1e-6, 1e-5, ..., 1e3.
std::vector<double> alpha_histogram_edges();
// Counts of the multipliers that count under `rule`, by |alpha|: below the first edge, in each decade
// [edge_i, edge_{i+1}), and at or above the last edge (edges + 1 counts).
std::vector<Index> alpha_histogram(const MultiplierStore& store, SupportRule rule = SupportRule::kPositive);

// Whether each example of the store (in id order) is a support vector.
std::vector<bool> support_set(const MultiplierStore& store, SupportRule rule = SupportRule::kPositive);
// Averaged multipliers (MultiplierStore::average_column() >= 0): examples whose mean multipliers count
// (support at any averaged update) and whose support share of some multiplier is above one half (support at
// most of them: a support set that leaves out the examples that come and go).
struct AveragedSupport {
  Index averaged = 0;
  Index stable = 0;
};
AveragedSupport averaged_support(const MultiplierStore& store, SupportRule rule = SupportRule::kPositive);

// Examples that entered or left the support set between two support_set()s of the same store shape.
Index support_churn(const std::vector<bool>& before, const std::vector<bool>& after);

}  // namespace normscale
