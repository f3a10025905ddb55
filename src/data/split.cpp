// carve_validation: a Fisher-Yates permutation from the split stream, so the split depends on the seed only.
#include "normscale/data/split.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"

#include <algorithm>
#include <numeric>

namespace normscale {

ValidationRows split_validation_rows(Index rows, Index count, std::uint64_t seed, const std::string& name) {
  NS_CHECK(count >= 0 && count <= rows,
           "data.validation = {} but the training set '{}' has only {} rows; expected 0 <= data.validation <= {}",
           count, name, rows, rows);
  std::vector<Index> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), Index{0});
  RandomStream random(seed, StreamPurpose::kSplit);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);

  // The first `count` positions of the permutation go to validation; sorting keeps file order in both parts.
  ValidationRows split;
  split.validation.assign(order.begin(), order.begin() + count);
  std::sort(split.validation.begin(), split.validation.end());
  std::vector<bool> is_validation(order.size(), false);
  for (const Index r : split.validation) is_validation[static_cast<std::size_t>(r)] = true;
  split.train.reserve(order.size() - split.validation.size());
  for (Index r = 0; r < rows; ++r) {
    if (!is_validation[static_cast<std::size_t>(r)]) split.train.push_back(r);
  }
  return split;
}

Dataset carve_validation(Dataset& train, Index count, std::uint64_t seed) {
  const ValidationRows split = split_validation_rows(train.rows, count, seed, train.name);
  Dataset validation = select_rows(train, split.validation);
  validation.name = train.name + " (validation)";
  train = select_rows(train, split.train);
  return validation;
}

}  // namespace normscale
