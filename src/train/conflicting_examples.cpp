// conflicting_examples: each rank writes the hashes of its own examples into its global rows of one
// table, an allreduce sum fills in the rest (every row is written by one rank, in 32-bit halves, so the
// sums are exact in doubles), then every rank sorts the table alike.
#include "normscale/train/conflicting_examples.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/listing.hpp"
#include "normscale/core/rng.hpp"
#include "normscale/data/data_source.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <span>

namespace normscale {

namespace {

// Values, not bits: -0.0 and 0.0 are the same input (numpy's rounding writes -0.0), so both hash as 0.0.
std::uint64_t hash_values(std::uint64_t hash, const float* values, Index count) {
  for (Index i = 0; i < count; i += 2) {
    std::uint64_t word = 0;
    for (Index k = i; k < std::min(count, i + 2); ++k) {
      const float value = values[k] == 0.0f ? 0.0f : values[k];
      std::uint32_t bits = 0;
      std::memcpy(&bits, &value, sizeof bits);
      word = (word << 32) | bits;
    }
    hash = mix64(hash ^ word);
  }
  return hash;
}

// Features, then the answer: a label, or the regression targets.
std::pair<std::uint64_t, std::uint64_t> example_hashes(const Dataset& split, Index r) {
  const std::uint64_t features = hash_values(0, split.row(r), split.cols);
  std::uint64_t answer = 0;
  if (!split.labels.empty()) answer = mix64(1 + static_cast<std::uint64_t>(split.labels[static_cast<std::size_t>(r)]));
  if (split.target_cols > 0) answer = hash_values(2, split.targets.data() + r * split.target_cols, split.target_cols);
  return {features, answer};
}

constexpr std::size_t kColumns = 4;  // the two hashes, each as two 32-bit halves

std::uint64_t joined(const double* halves) {
  return (static_cast<std::uint64_t>(halves[0]) << 32) | static_cast<std::uint64_t>(halves[1]);
}

}  // namespace

ConflictingExamples conflicting_examples(Communicator& comm, const Dataset& split, std::size_t listed) {
  const auto rows = static_cast<std::size_t>(split.global_rows());
  std::vector<double> table(rows * kColumns, 0.0);
  for (Index r = 0; r < split.rows; ++r) {
    const auto [features, answer] = example_hashes(split, r);
    double* out = table.data() + static_cast<std::size_t>(split.first_id + r) * kColumns;
    out[0] = static_cast<double>(features >> 32);
    out[1] = static_cast<double>(features & 0xffffffffULL);
    out[2] = static_cast<double>(answer >> 32);
    out[3] = static_cast<double>(answer & 0xffffffffULL);
  }
  comm.allreduce_sum(std::span<double>(table));

  std::vector<Index> order(rows);
  std::iota(order.begin(), order.end(), Index{0});
  const auto features_of = [&](Index id) { return joined(table.data() + static_cast<std::size_t>(id) * kColumns); };
  const auto answer_of = [&](Index id) { return joined(table.data() + static_cast<std::size_t>(id) * kColumns + 2); };
  std::sort(order.begin(), order.end(), [&](Index a, Index b) {
    const std::uint64_t fa = features_of(a), fb = features_of(b);
    return fa != fb ? fa < fb : a < b;
  });
  ConflictingExamples found;
  for (std::size_t k = 1, group = 0; k < rows; ++k) {
    if (features_of(order[k]) != features_of(order[group])) {
      group = k;
      continue;
    }
    // Within a group of equal features (in global-id order), an example conflicts when its answer
    // differs from the group's first.
    if (answer_of(order[k]) == answer_of(order[group])) continue;
    ++found.pairs;
    if (found.first.size() < listed) found.first.emplace_back(order[group], order[k]);
  }
  std::sort(found.first.begin(), found.first.end());
  return found;
}

bool has_hard_constraints(const ObjectiveConfig& objective) {
  return objective.regime == "minnorm" && (objective.task == "regression" || std::isinf(objective.C));
}

void check_no_conflicting_examples(const TrainConfig& config, const ConflictingExamples& found,
                                   const std::string& split_name) {
  const ObjectiveConfig& objective = config.objective;
  if (found.pairs == 0 || !has_hard_constraints(objective)) return;
  std::vector<std::string> pairs;
  for (const auto& [a, b] : found.first) pairs.push_back(fmt::format("#{} and #{}", a, b));
  const char* positions =
      is_synthetic_source(config.data.source) ? "0-based positions among the generated training examples"
      : config.data.validation == 0 && config.data.classes.empty()
          ? "0-based rows of the file"
          : "0-based positions among the training examples in file order, once data.classes and data.validation "
            "took theirs";
  const bool regression = objective.task == "regression";
  throw Error(fmt::format(
      "the training set '{}' holds {} example(s) with the same features as another (after data.preprocess) and a "
      "different {} ({}; {}): no model fits both, so objective.regime = minnorm with {} has no solution, and its "
      "multipliers would grow without bound; hint: {}",
      split_name, found.pairs, regression ? "regression target" : "label",
      first_and_more(pairs, pairs.size(), static_cast<std::size_t>(found.pairs)), positions,
      regression ? "objective.task = regression (equality constraints)" : "a hard margin (objective.C = inf)",
      regression ? "remove the duplicates from the data"
                 : "set objective.C (a soft margin, e.g. objective.C = 1) or remove the duplicates"));
}

}  // namespace normscale
