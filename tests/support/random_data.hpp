// Small random classification sets for tests: normal features (plus a shift), then labels either
// cyclic (i mod C) or drawn from the same stream, so a (seed, shape, rule) always gives the same set.
#pragma once

#include "normscale/core/rng.hpp"
#include "normscale/data/dataset.hpp"

#include <cstdint>

namespace normscale::testing {

enum class LabelRule { kCyclic, kRandom };

inline Dataset random_classification(Index rows, Index cols, Index classes, std::uint64_t seed, LabelRule rule,
                                     double shift = 0.0) {
  Dataset d;
  d.name = "random";
  d.rows = rows;
  d.cols = cols;
  d.num_classes = classes;
  RandomStream rng(seed, StreamPurpose::kSynthetic);
  for (Index i = 0; i < rows * cols; ++i) d.features.push_back(static_cast<float>(rng.normal() + shift));
  for (Index i = 0; i < rows; ++i) {
    const Index label = rule == LabelRule::kCyclic ? i % classes : static_cast<Index>(rng.below(static_cast<std::uint64_t>(classes)));
    d.labels.push_back(static_cast<std::int32_t>(label));
  }
  return d;
}

}  // namespace normscale::testing
