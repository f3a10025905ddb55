// Minnorm as an Objective (the rule: minnorm_rule.hpp): checks that the task fits the data and the
// outputs, and keeps one multiplier per owned example and output.
#pragma once

#include "normscale/objective/example_objective.hpp"
#include "normscale/objective/minnorm_rule.hpp"

namespace normscale {

template <class T>
class Minnorm final : public ExampleObjective<T, MinnormRule> {
 public:
  Minnorm(MinnormParams params, const Dataset& train, Index outputs);
};

}  // namespace normscale
