// Performance profiles and their scores (see the header).
#include "normscale/study/performance_profile.hpp"

#include "normscale/study/report_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>

namespace normscale {

double PerformanceProfiles::share(std::size_t i, double tau) const {
  if (workloads == 0) return 0.0;
  const auto& ratios = regimes.at(i).ratios;
  const auto within = std::count_if(ratios.begin(), ratios.end(), [&](double q) { return q <= tau; });
  return static_cast<double>(within) / static_cast<double>(workloads);
}

PerformanceProfiles performance_profiles(const std::vector<RegimeSteps>& steps, double tau_max) {
  PerformanceProfiles profiles;
  profiles.tau_max = tau_max;
  std::map<double, double> fastest;  // batch -> fewest steps over the regimes
  for (const RegimeSteps& r : steps) {
    for (const BatchSteps& p : r.points) {
      const auto [at, inserted] = fastest.emplace(p.batch, p.steps);
      if (!inserted) at->second = std::min(at->second, p.steps);
    }
  }
  profiles.workloads = fastest.size();
  for (const RegimeSteps& r : steps) {
    RegimeProfile profile{r.regime, {}, 0.0};
    double area = 0.0;  // integral_1^tau_max of this regime's share, workload by workload
    for (const BatchSteps& p : r.points) {
      // The fastest itself is 1, also where it met the target at step 0 (0 / 0).
      const double best = fastest.at(p.batch);
      const double q = p.steps == best ? 1.0 : p.steps / best;
      profile.ratios.push_back(q);
      area += std::max(0.0, tau_max - std::max(1.0, q));
    }
    if (profiles.workloads > 0 && tau_max > 1.0) {
      profile.score = area / (static_cast<double>(profiles.workloads) * (tau_max - 1.0));
    }
    profiles.regimes.push_back(std::move(profile));
  }
  return profiles;
}

std::string performance_profile_markdown(const PerformanceProfiles& profiles) {
  std::string text = fmt::format(
      "\n## Performance profiles\n\nEach batch size is a workload ({} reached by some regime); a regime's rho(tau) is "
      "the share of workloads it reaches the target on within tau times the fastest regime's steps. Score: the mean "
      "of rho over tau in [1, {:g}] (AlgoPerf).\n\n| regime | score | fastest on | within 2x on |\n"
      "| --- | ---: | ---: | ---: |\n",
      profiles.workloads, profiles.tau_max);
  for (std::size_t i = 0; i < profiles.regimes.size(); ++i) {
    text += fmt::format("| {} | {:.3f} | {:.0f}% | {:.0f}% |\n", markdown_cell(profiles.regimes[i].regime),
                        profiles.regimes[i].score, 100.0 * profiles.share(i, 1.0), 100.0 * profiles.share(i, 2.0));
  }
  return text;
}

}  // namespace normscale
