// Softmax cross-entropy / logistic loss as an Objective (the rule: cross_entropy_rule.hpp).
#pragma once

#include "normscale/objective/cross_entropy_rule.hpp"
#include "normscale/objective/example_objective.hpp"

namespace normscale {

template <class T>
using CrossEntropy = ExampleObjective<T, CrossEntropyRule>;

}  // namespace normscale
