// Training examples with the same features and different answers (labels or regression targets): no
// model fits both, so Minnorm's hard constraints have no solution there, and dual ascent grows their
// multipliers without bound while the run looks healthy. A run refuses such data up front.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/objective/objective_config.hpp"
#include "normscale/train/config.hpp"

#include <utility>
#include <vector>

namespace normscale {

struct ConflictingExamples {
  Index pairs = 0;                             // examples that share features with an earlier one of another answer
  std::vector<std::pair<Index, Index>> first;  // the first few, as (earlier, later) global ids of the split
};

// Collective: every rank gets the same answer however the split is spread over them. Features compare
// by a 64-bit hash of their bits (a false match among 10^6 examples has a chance of about 3e-8).
ConflictingExamples conflicting_examples(Communicator& comm, const Dataset& split, std::size_t listed = 3);

// Whether the objective's constraints must hold exactly: Minnorm regression (equalities) or a hard margin
// (objective.C = inf).
bool has_hard_constraints(const ObjectiveConfig& objective);

// The refusal of conflicting examples under hard constraints, naming them (as file rows where the training
// split is the file's rows) and the way out; nothing else.
void check_no_conflicting_examples(const TrainConfig& config, const ConflictingExamples& found,
                                   const std::string& split_name);

}  // namespace normscale
