// Successive halving and ASHA on a rung schedule: the pure planner that says which trials go on to the next
// rung and which stop early, from where each trial of a bracket stands. No backend, no database.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace normscale {

// "asynchronous" (ASHA, Li et al. 2018): a trial goes on as soon as it is in the top 1/eta of those that
// finished its rung so far. "synchronous" (successive halving): only once nothing can reach the rung any more.
enum class HalvingMode { kAsynchronous, kSynchronous };
std::string_view halving_mode_name(HalvingMode mode);

// The study's `[halving]` table: budgets (epochs, or steps when the study's budget is steps), increasing, the
// last one the study's budget; `reduction` is eta.
struct HalvingSpec {
  std::vector<std::int64_t> rungs;
  std::int64_t reduction = 3;
  HalvingMode mode = HalvingMode::kAsynchronous;
};

// Where one trial stands: the rung it was last given (0 at first) and how its run there is going.
enum class RungProgress {
  kUnfinished,  // pending or running at `rung`
  kFinished,    // finished `rung`: errors[rung] is its study metric there (validation error or loss)
  kFailed,      // failed at `rung` (diverged or crashed): it counts as finished there, with an infinite error
};

struct RungStanding {
  std::size_t bracket = 0;        // trials compete within their bracket only
  std::size_t rung = 0;
  RungProgress progress = RungProgress::kUnfinished;
  // The study metric (validation error or loss; lower is better) at rungs 0 ... rung (kFinished) or 0 ... rung - 1;
  // a missing or non-finite one ranks last and is never promoted.
  std::vector<double> errors;
};

// Indices into the standings, in increasing order.
struct HalvingPlan {
  std::vector<std::size_t> promote;  // finished their rung: run them at rung + 1
  std::vector<std::size_t> stop;     // finished below the last rung, and nothing can promote them any more
};

// At rung k of a bracket, n trials have finished k (those promoted past it included; a failure counts with an
// infinite error). Ranked by their error at k (ties: the earlier trial first), the top floor(n / eta) go on:
// asynchronous at once, synchronous only when the rung is settled — every trial of the bracket has either
// finished k or stopped (failed, or stopped at a lower rung), so n can grow no more. A settled rung always sends
// on at least its best (finite) trial, and its next best (finite) one when every trial that went on from it failed
// above it, so every bracket's winner trains to the full budget. The rest of a settled rung stop early (a trial
// stopped early may still be sent on later that way). Failed trials and those without a finite error at k are never
// promoted. Pure: the same standings give the same plan, and a trial already promoted counts among the top it was
// promoted from.
HalvingPlan plan_halving(const HalvingSpec& spec, std::span<const RungStanding> standings);

// One evaluation of a trial, as its metrics record it (the study metric absent when none was measured).
struct Evaluation {
  std::int64_t step = 0;
  double epoch = 0.0;
  std::optional<double> value;
};

// The study metric at rungs 0 ... count - 1 from a trial's evaluations in step order: at each rung the first
// evaluation at or past its budget (`budget_in_steps`: step >= rung; else epoch >= rung), which is where a run
// with that budget ended (the trainer evaluates at its last step, and a resumed run keeps the rows before it).
// A rung without one gets +infinity (never promoted).
std::vector<double> errors_at_rungs(std::span<const Evaluation> evaluations, std::span<const std::int64_t> rungs,
                                    bool budget_in_steps, std::size_t count);

}  // namespace normscale
