// Performance profiles across regimes (Dolan and Moré 2002, as MLCommons AlgoPerf scores training
// algorithms): each workload (here: each batch size of the study) has a time to the target per regime; a
// regime's profile rho(tau) is the share of workloads it finishes within tau times the fastest regime's time
// there, and its score the mean of rho over tau in [1, tau_max] (AlgoPerf's tau_max = 4). A regime that misses a
// workload's target never counts for it; workloads no regime finished are left out.
#pragma once

#include "normscale/study/critical_batch.hpp"

#include <string>
#include <vector>

namespace normscale {

struct RegimeProfile {
  std::string regime;
  std::vector<double> ratios;  // time / fastest time on each counted workload where it reached the target
  double score = 0.0;          // (1 / (tau_max - 1)) integral_1^tau_max rho(tau) dtau, in [0, 1]
};

struct PerformanceProfiles {
  std::size_t workloads = 0;  // those some regime finished
  double tau_max = 4.0;
  std::vector<RegimeProfile> regimes;  // study-file order

  // rho(tau) of regime i.
  double share(std::size_t i, double tau) const;
};

// From each regime's steps to target per batch size (steps_to_target_by_regime).
PerformanceProfiles performance_profiles(const std::vector<RegimeSteps>& steps, double tau_max = 4.0);

// The section of table.md: the score and the share of workloads won (tau = 1) per regime.
std::string performance_profile_markdown(const PerformanceProfiles& profiles);

}  // namespace normscale
