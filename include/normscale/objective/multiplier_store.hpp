// Minnorm's Lagrange multipliers: alpha per owned training example (and per class for multi-class),
// indexed by global example id, followed in each row by any state the multiplier update keeps (the PI
// rule's integral). They live with the data shard on its rank, never in the model, and a checkpoint
// keeps whole rows.
#pragma once

#include "normscale/core/types.hpp"

#include <vector>

namespace normscale {

class MultiplierStore {
 public:
  MultiplierStore() = default;
  // Examples with global ids [first_id, first_id + count), `per_example` values each, of which the first
  // `multipliers` (0: all) are the Lagrange multipliers; all zero.
  MultiplierStore(Index first_id, Index count, Index per_example, Index multipliers = 0);

  Index first_id() const { return first_id_; }
  Index count() const { return count_; }
  // Values per example: the row stride, what a checkpoint stores.
  Index per_example() const { return per_example_; }
  // The leading values of a row that are multipliers: what support vectors and exports count.
  Index multipliers_per_example() const { return multipliers_; }

  double* row(Index global_id) { return values_.data() + offset(global_id); }
  const double* row(Index global_id) const { return values_.data() + offset(global_id); }
  std::vector<double>& values() { return values_; }
  const std::vector<double>& values() const { return values_; }

  // Averaged multipliers (Minnorm's objective.average_from_epoch): the column of a row where the means of the
  // multipliers start, followed by the share of the averaged updates at which each was support; -1: none.
  Index average_column() const { return average_column_; }
  void set_average_column(Index column) { average_column_ = column; }

  // A support vector is an example with any multiplier > 0.
  bool is_support(Index global_id) const;
  Index support_count() const;

 private:
  Index offset(Index global_id) const { return (global_id - first_id_) * per_example_; }
  Index first_id_ = 0;
  Index count_ = 0;
  Index per_example_ = 1;
  Index multipliers_ = 1;
  Index average_column_ = -1;
  std::vector<double> values_;
};

}  // namespace normscale
