// The validation split: a fixed, seeded choice of training rows set aside for validation.
#pragma once

#include "normscale/data/dataset.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

// The split as row numbers of a training file of `rows` rows, both lists ascending: what sharded loading
// needs to read only its rows. `name` (the file) is for the error message.
struct ValidationRows {
  std::vector<Index> validation;
  std::vector<Index> train;
};
ValidationRows split_validation_rows(Index rows, Index count, std::uint64_t seed, const std::string& name);

// Moves `count` rows, chosen by a permutation seeded with `seed` (stream kSplit), from `train` into the
// returned validation set. Both keep file order; train's first_id becomes 0. count = 0 returns an
// empty set with train's columns and classes. The rows are those of split_validation_rows.
Dataset carve_validation(Dataset& train, Index count, std::uint64_t seed);

}  // namespace normscale
