// The validation split: a fixed, seeded choice of training rows set aside for validation.
#pragma once

#include "normscale/data/dataset.hpp"

#include <cstdint>

namespace normscale {

// Moves `count` rows, chosen by a permutation seeded with `seed` (stream kSplit), from `train` into the
// returned validation set. Both keep file order; train's first_id becomes 0. count = 0 returns an
// empty set with train's columns and classes.
Dataset carve_validation(Dataset& train, Index count, std::uint64_t seed);

}  // namespace normscale
