// First-fit packing of trials onto cores.
#include "normscale/study/trial_packing.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>

namespace normscale {

std::int64_t trial_cores(std::int64_t ranks, std::int64_t threads_per_rank) {
  NS_CHECK(ranks >= 1, "trial packing: ranks = {}; expected >= 1", ranks);
  return ranks * std::max<std::int64_t>(threads_per_rank, 1);
}

std::int64_t cores_held(std::int64_t demand, std::int64_t total_cores) {
  return std::min(demand, total_cores);
}

std::vector<std::size_t> trials_to_start(std::int64_t free_cores, std::int64_t total_cores,
                                         std::span<const std::int64_t> demands) {
  NS_CHECK(total_cores >= 1 && free_cores >= 0 && free_cores <= total_cores,
           "trial packing: {} free of {} cores; expected 0 <= free <= total and total >= 1", free_cores,
           total_cores);
  std::vector<std::size_t> start;
  std::int64_t left = free_cores;
  for (std::size_t i = 0; i < demands.size() && left > 0; ++i) {
    NS_CHECK(demands[i] >= 1, "trial packing: trial {} needs {} cores; expected >= 1", i, demands[i]);
    const std::int64_t held = cores_held(demands[i], total_cores);
    // A wide trial holds the whole machine, so it fits only when every core is free.
    if (held <= left) {
      start.push_back(i);
      left -= held;
    }
  }
  return start;
}

}  // namespace normscale
