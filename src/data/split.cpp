// carve_validation: a Fisher-Yates permutation from the split stream, so the split depends on the seed only.
#include "normscale/data/split.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"

#include <algorithm>
#include <numeric>

namespace normscale {

Dataset carve_validation(Dataset& train, Index count, std::uint64_t seed) {
  NS_CHECK(count >= 0 && count <= train.rows,
           "data.validation = {} but the training set '{}' has only {} rows; expected 0 <= data.validation <= {}",
           count, train.name, train.rows, train.rows);
  std::vector<Index> order(static_cast<std::size_t>(train.rows));
  std::iota(order.begin(), order.end(), Index{0});
  RandomStream random(seed, StreamPurpose::kSplit);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);

  // The first `count` positions of the permutation go to validation; sorting keeps file order in both parts.
  std::vector<Index> validation_rows(order.begin(), order.begin() + count);
  std::sort(validation_rows.begin(), validation_rows.end());
  std::vector<bool> is_validation(order.size(), false);
  for (const Index r : validation_rows) is_validation[static_cast<std::size_t>(r)] = true;
  std::vector<Index> train_rows;
  train_rows.reserve(order.size() - validation_rows.size());
  for (Index r = 0; r < train.rows; ++r) {
    if (!is_validation[static_cast<std::size_t>(r)]) train_rows.push_back(r);
  }

  Dataset validation = select_rows(train, validation_rows);
  validation.name = train.name + " (validation)";
  train = select_rows(train, train_rows);
  return validation;
}

}  // namespace normscale
