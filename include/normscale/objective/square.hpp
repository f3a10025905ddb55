// The square loss as an Objective (the rule and its targets: square_rule.hpp).
#pragma once

#include "normscale/objective/example_objective.hpp"
#include "normscale/objective/square_rule.hpp"

namespace normscale {

template <class T>
using Square = ExampleObjective<T, SquareRule>;

}  // namespace normscale
