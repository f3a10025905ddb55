// The built-in objectives on GPU ranks: their per-example rules, compiled by nvcc from the same headers
// the CPU path uses.
#include "normscale/cuda/device_example_objective.cuh"
#include "normscale/objective/cross_entropy_rule.hpp"
#include "normscale/objective/exponential_rule.hpp"
#include "normscale/objective/minnorm_rule.hpp"
#include "normscale/objective/square_rule.hpp"

namespace normscale {

void register_builtin_device_rules() {
  register_device_rule<CrossEntropyRule>();
  register_device_rule<SquareRule>();
  register_device_rule<MinnormRule>();
  register_device_rule<ExponentialRule>();
}

}  // namespace normscale
