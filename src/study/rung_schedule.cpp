// The rung schedule check: a halving study runs with the rungs its database recorded, or not at all.
#include "normscale/study/rung_schedule.hpp"

#include "normscale/core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace normscale {

RungSchedule rung_schedule_of(const StudySpec& spec) {
  return {spec.halving.value().rungs, spec.steps > 0 ? "steps" : "epochs"};
}

void check_rung_schedule(const StudySpec& spec, std::span<const Trial> trials, const TrialStore& store) {
  const std::optional<RungSchedule> recorded = store.rung_schedule();
  const bool recorded_halving = recorded && !recorded->rungs.empty();
  if (!spec.halving) {
    NS_CHECK(!recorded_halving,
             "{}: no [halving] section, but its database {} recorded rungs = [{}] ({}) when the study first ran; "
             "trials it stopped early at a rung would be taken for finished runs of the full budget. Nothing was "
             "changed. Restore the [halving] section with rungs = [{}], or run without it as a new study (another "
             "study file name, so a new database and runs folder)",
             spec.source, store.path().string(), fmt::join(recorded->rungs, ", "), recorded->unit,
             fmt::join(recorded->rungs, ", "));
    return;
  }
  const RungSchedule wanted = rung_schedule_of(spec);
  if (recorded_halving) {
    NS_CHECK(*recorded == wanted,
             "{}: [halving] rungs = [{}] ({}), but its database {} recorded rungs = [{}] ({}) when the study first "
             "ran; a trial's recorded rung is an index into that list, so its finished rungs would be read against "
             "other budgets. Nothing was changed. Restore rungs = [{}] with the budget in {}, or run the new schedule "
             "as a new study (another study file name, so a new database and runs folder)",
             spec.source, fmt::join(wanted.rungs, ", "), wanted.unit, store.path().string(),
             fmt::join(recorded->rungs, ", "), recorded->unit, fmt::join(recorded->rungs, ", "), recorded->unit);
    return;
  }
  // No schedule recorded, or the empty one of a study that ran without [halving]: its trials ran the full budget,
  // which the planner would read as rung results and promote or stop early by. Only a study none of whose trials ran
  // yet may take the schedule on. Without a record (a database of before plain studies recorded theirs), a done
  // trial at rung 0 whose evaluations reach the last rung's budget ran without [halving].
  const auto ran_full_budget = [&](const TrialRecord& record) {
    if (record.state != TrialState::kDone || record.rung != 0 || record.stopped_early) return false;
    const std::vector<MetricRow> rows = store.metrics(record.id);
    if (rows.empty()) return false;
    const double reached = wanted.unit == "steps" ? static_cast<double>(rows.back().step) : rows.back().epoch;
    return reached >= 0.99 * static_cast<double>(wanted.rungs.back());
  };
  std::size_t ran = 0;
  for (const Trial& trial : trials) {
    const std::optional<TrialRecord> record = store.trial(trial.id);
    if (record && (recorded ? record->state != TrialState::kPending : ran_full_budget(*record))) ++ran;
  }
  NS_CHECK(ran == 0,
           "{}: [halving] rungs = [{}] ({}), but the study ran without a [halving] section ({} of its {} trials ran, "
           "per its database {}); their full-budget runs would be read as rung results, promoted or marked stopped "
           "early. Nothing was changed. Remove the [halving] section, or run the halving study as a new study "
           "(another study file name, so a new database and runs folder)",
           spec.source, fmt::join(wanted.rungs, ", "), wanted.unit, ran, trials.size(), store.path().string());
}

}  // namespace normscale
