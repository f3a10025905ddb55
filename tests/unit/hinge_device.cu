// The toy hinge objective on GPU ranks: one registration of its rule (built with the CUDA backend only).
#include "normscale/cuda/device_example_objective.cuh"
#include "support/hinge_rule.hpp"

namespace normscale::testing {

void register_hinge_on_gpu() { register_device_rule<HingeRule>(); }

}  // namespace normscale::testing
