// The halving planner: rung by rung, bottom up, within each bracket.
#include "normscale/study/halving.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace normscale {
namespace {

constexpr double kInfinite = std::numeric_limits<double>::infinity();

// Where a trial stands while the plan is made: a promotion moves it to the next rung, unfinished there.
struct Place {
  std::size_t rung = 0;
  RungProgress progress = RungProgress::kUnfinished;
};

double error_at(const RungStanding& standing, std::size_t rung) {
  if (standing.rung == rung && standing.progress == RungProgress::kFailed) return kInfinite;
  if (rung >= standing.errors.size() || !std::isfinite(standing.errors[rung])) return kInfinite;
  return standing.errors[rung];
}

void plan_bracket(const HalvingSpec& spec, std::span<const RungStanding> standings,
                  const std::vector<std::size_t>& members, HalvingPlan& plan) {
  std::map<std::size_t, Place> places;
  for (const std::size_t i : members) places[i] = {standings[i].rung, standings[i].progress};
  const std::size_t last = spec.rungs.size() - 1;
  bool settled_below = true;  // nothing can reach the rungs below any more
  for (std::size_t rung = 0; rung < last; ++rung) {
    std::vector<std::size_t> finished;
    bool unfinished_here = false;
    for (const std::size_t i : members) {
      const Place& place = places[i];
      if (place.rung > rung || (place.rung == rung && place.progress != RungProgress::kUnfinished)) {
        finished.push_back(i);
      }
      if (place.rung == rung && place.progress == RungProgress::kUnfinished) unfinished_here = true;
    }
    // Members are in trial order, so a stable sort breaks ties by it.
    std::stable_sort(finished.begin(), finished.end(), [&](std::size_t a, std::size_t b) {
      return error_at(standings[a], rung) < error_at(standings[b], rung);
    });
    const bool settled = settled_below && !unfinished_here;
    std::size_t top = finished.size() / static_cast<std::size_t>(spec.reduction);
    if (settled) top = std::max<std::size_t>(top, 1);
    if (spec.mode == HalvingMode::kSynchronous && !settled) top = 0;
    top = std::min(top, finished.size());
    for (std::size_t place_in_rank = 0; place_in_rank < top; ++place_in_rank) {
      const std::size_t i = finished[place_in_rank];
      Place& place = places[i];
      if (place.rung != rung || place.progress != RungProgress::kFinished) continue;  // promoted before, or failed
      if (!std::isfinite(error_at(standings[i], rung))) continue;
      plan.promote.push_back(i);
      place = {rung + 1, RungProgress::kUnfinished};
    }
    // A settled rung whose every trial that went on has failed above it (diverged at a larger budget), or finished a
    // rung below the last without an error there to rank it by, sends on its next best instead: otherwise the bracket
    // would end with nothing trained to the full budget.
    const auto alive_above = [&](std::size_t i) {
      const Place& place = places[i];
      if (place.rung <= rung || place.progress == RungProgress::kFailed) return false;
      return place.progress == RungProgress::kUnfinished || place.rung == last ||
             std::isfinite(error_at(standings[i], place.rung));
    };
    if (settled && std::none_of(members.begin(), members.end(), alive_above)) {
      for (const std::size_t i : finished) {
        Place& place = places[i];
        if (place.rung != rung || place.progress != RungProgress::kFinished) continue;
        if (!std::isfinite(error_at(standings[i], rung))) break;  // ranked: the rest are not finite either
        plan.promote.push_back(i);
        place = {rung + 1, RungProgress::kUnfinished};
        break;
      }
    }
    if (settled) {
      for (const std::size_t i : finished) {
        const Place& place = places[i];
        if (place.rung == rung && place.progress == RungProgress::kFinished) plan.stop.push_back(i);
      }
    }
    settled_below = settled;
  }
}

}  // namespace

std::string_view halving_mode_name(HalvingMode mode) {
  return mode == HalvingMode::kAsynchronous ? "asynchronous" : "synchronous";
}

HalvingPlan plan_halving(const HalvingSpec& spec, std::span<const RungStanding> standings) {
  HalvingPlan plan;
  if (spec.rungs.empty()) return plan;
  std::map<std::size_t, std::vector<std::size_t>> brackets;
  for (std::size_t i = 0; i < standings.size(); ++i) brackets[standings[i].bracket].push_back(i);
  for (const auto& [bracket, members] : brackets) plan_bracket(spec, standings, members, plan);
  std::sort(plan.promote.begin(), plan.promote.end());
  std::sort(plan.stop.begin(), plan.stop.end());
  return plan;
}

std::vector<double> errors_at_rungs(std::span<const Evaluation> evaluations, std::span<const std::int64_t> rungs,
                                    bool budget_in_steps, std::size_t count) {
  std::vector<double> errors;
  for (std::size_t rung = 0; rung < count && rung < rungs.size(); ++rung) {
    const auto reached = std::find_if(evaluations.begin(), evaluations.end(), [&](const Evaluation& e) {
      // 1e-9 as the trainer's steps_for_epochs: an r-epoch run ends at the first step with epoch >= r.
      return budget_in_steps ? e.step >= rungs[rung] : e.epoch >= static_cast<double>(rungs[rung]) - 1e-9;
    });
    errors.push_back(reached != evaluations.end() && reached->value ? *reached->value
                                                                                : kInfinite);
  }
  return errors;
}

}  // namespace normscale
