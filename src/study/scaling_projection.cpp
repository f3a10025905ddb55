// The data-parallel step-time model (see the header).
#include "normscale/study/scaling_projection.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>
#include <limits>

namespace normscale {

double ring_allreduce_seconds(const NetworkModel& network, double bytes, std::int64_t ranks) {
  NS_CHECK(ranks >= 1, "scaling projection: {} ranks; expected >= 1", ranks);
  if (ranks == 1) return 0.0;
  NS_CHECK(network.bus_bandwidth > 0.0, "scaling projection: bus bandwidth {} bytes/s; expected > 0",
           network.bus_bandwidth);
  const double p = static_cast<double>(ranks);
  return network.latency + 2.0 * (p - 1.0) / p * bytes / network.bus_bandwidth;
}

double time_sharing_factor(std::int64_t ranks, std::int64_t cores) {
  if (cores == kCorePerRank) return 1.0;
  return std::max(1.0, static_cast<double>(ranks) / static_cast<double>(cores));
}

namespace {

// compute + comm of one step, without the efficiency (which needs the one-rank step).
ProjectedStep step_time(const StepCost& cost, const NetworkModel& network, double global_batch, std::int64_t ranks,
                        std::int64_t cores) {
  ProjectedStep step;
  step.ranks = ranks;
  step.compute_seconds =
      cost.compute_per_example * global_batch / static_cast<double>(ranks) * time_sharing_factor(ranks, cores);
  step.comm_seconds = ring_allreduce_seconds(network, cost.bytes_per_step, ranks);
  step.step_seconds = step.compute_seconds + step.comm_seconds;
  step.samples_per_s = step.step_seconds > 0.0 ? global_batch / step.step_seconds : 0.0;
  step.communication_bound = step.comm_seconds > step.compute_seconds;
  return step;
}

}  // namespace

ProjectedStep project_step(const StepCost& cost, const NetworkModel& network, double global_batch, std::int64_t ranks,
                           std::int64_t cores) {
  NS_CHECK(global_batch > 0.0, "scaling projection: global batch {}; expected > 0", global_batch);
  ProjectedStep step = step_time(cost, network, global_batch, ranks, cores);
  const ProjectedStep one = step_time(cost, network, global_batch, 1, cores);
  step.efficiency = one.samples_per_s > 0.0
                        ? step.samples_per_s / (static_cast<double>(ranks) * one.samples_per_s)
                        : 0.0;
  return step;
}

double communication_bound_crossover(const StepCost& cost, const NetworkModel& network, double global_batch) {
  NS_CHECK(network.bus_bandwidth > 0.0, "scaling projection: bus bandwidth {} bytes/s; expected > 0",
           network.bus_bandwidth);
  const double transfer = 2.0 * cost.bytes_per_step / network.bus_bandwidth;
  const double denominator = network.latency + transfer;
  // An allreduce that costs nothing (no bytes logged, no latency given) never catches up with the compute.
  if (!(denominator > 0.0)) return std::numeric_limits<double>::infinity();
  return (cost.compute_per_example * global_batch + transfer) / denominator;
}

std::vector<std::int64_t> doubling_ranks(std::int64_t largest) {
  std::vector<std::int64_t> ranks;
  for (std::int64_t p = 1; p <= largest; p *= 2) ranks.push_back(p);
  return ranks;
}

}  // namespace normscale
