// MultiplierStore: a dense block of multipliers for a contiguous range of global example ids.
#include "normscale/objective/multiplier_store.hpp"

#include "normscale/core/error.hpp"

namespace normscale {

MultiplierStore::MultiplierStore(Index first_id, Index count, Index per_example, Index multipliers)
    : first_id_(first_id), count_(count), per_example_(per_example),
      multipliers_(multipliers > 0 ? multipliers : per_example),
      values_(static_cast<std::size_t>(count * per_example), 0.0) {
  NS_CHECK(count >= 0 && per_example > 0 && multipliers_ <= per_example,
           "multiplier store needs count >= 0 and 0 < multipliers <= per_example (got {}, {}, {})", count,
           multipliers, per_example);
}

bool MultiplierStore::is_support(Index global_id) const {
  const double* a = row(global_id);
  for (Index i = 0; i < multipliers_; ++i) {
    if (a[i] > 0.0) return true;
  }
  return false;
}

Index MultiplierStore::support_count() const {
  Index n = 0;
  for (Index id = first_id_; id < first_id_ + count_; ++id) n += is_support(id) ? 1 : 0;
  return n;
}

}  // namespace normscale
