// Successive halving in a running study, for any backend: each trial at its rung's budget, the planner's view
// read from the database, and its decisions (promotions, early stops) written back there before anyone acts
// on them, so a scheduler killed at any point and started again continues the same halving.
#pragma once

#include "normscale/study/halving.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace normscale {

struct HalvingStep {
  std::vector<const Trial*> promoted;  // pending again, at their new rung's budget: to be queued
  std::vector<std::string> notes;      // one line per decision, for the scheduler's output
};

class HalvingRun {
 public:
  // `spec.halving` must be set; `trials` (expand(spec)) must outlive this.
  HalvingRun(const StudySpec& spec, std::span<const Trial> trials);

  // The trial as it runs at its rung (`rung` of its record; clamped to the last): the same trial and id, its
  // budget (epochs or steps) that rung's. The trainer resumes a checkpoint whatever the budget.
  const Trial& at_rung(const Trial& trial, std::int64_t rung) const;

  // Plans from the database as it is now (halving.hpp), promotes (TrialStore::promote) and stops early
  // (TrialStore::stop_early) what the plan says. Calling it again with nothing new changes nothing.
  // A trial's metrics are read only when its record changed since the last call (a finished rung's errors never
  // change): one read per trial end, not one per trial at every end.
  HalvingStep advance(TrialStore& store);

  const HalvingSpec& spec() const { return spec_; }
  // How many times advance() has read a trial's metrics (to test that finished rungs are not read again).
  std::size_t metrics_reads() const { return metrics_reads_; }

 private:
  HalvingSpec spec_;
  StudyMetric metric_;                                 // what trials are ranked by
  bool budget_in_steps_ = false;
  std::string unit_;                                   // "epochs" or "steps"
  std::span<const Trial> trials_;
  std::vector<std::size_t> brackets_;                  // per trial
  std::vector<std::vector<Trial>> at_rungs_;           // per trial, per rung
  std::map<std::string, std::size_t> index_of_id_;

  // Per trial, its errors at rungs 0 ... known - 1 and the record they were computed from; a record that differs
  // in any of these (an end, a retry, a promotion by someone else) may have other metrics, so they are read again.
  struct KnownErrors {
    std::size_t known = 0;
    RungProgress progress = RungProgress::kUnfinished;
    std::string finished;
    std::optional<double> wall_seconds;
    std::vector<double> errors;
  };
  std::vector<std::optional<KnownErrors>> known_errors_;  // per trial
  std::size_t metrics_reads_ = 0;
};

}  // namespace normscale
