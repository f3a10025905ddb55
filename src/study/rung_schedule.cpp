// The rung schedule check: a halving study runs with the rungs its database recorded, or not at all.
#include "normscale/study/rung_schedule.hpp"

#include "normscale/core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace normscale {

RungSchedule rung_schedule_of(const StudySpec& spec) {
  return {spec.halving.value().rungs, spec.steps > 0 ? "steps" : "epochs"};
}

void check_rung_schedule(const StudySpec& spec, const TrialStore& store) {
  const std::optional<RungSchedule> recorded = store.rung_schedule();
  if (!spec.halving) {
    NS_CHECK(!recorded,
             "{}: no [halving] section, but its database {} recorded rungs = [{}] ({}) when the study first ran; "
             "trials it stopped early at a rung would be taken for finished runs of the full budget. Nothing was "
             "changed. Restore the [halving] section with rungs = [{}], or run without it as a new study (another "
             "study file name, so a new database and runs folder)",
             spec.source, store.path().string(), fmt::join(recorded->rungs, ", "), recorded->unit,
             fmt::join(recorded->rungs, ", "));
    return;
  }
  const RungSchedule wanted = rung_schedule_of(spec);
  NS_CHECK(!recorded || *recorded == wanted,
           "{}: [halving] rungs = [{}] ({}), but its database {} recorded rungs = [{}] ({}) when the study first ran; "
           "a trial's recorded rung is an index into that list, so its finished rungs would be read against other "
           "budgets. Nothing was changed. Restore rungs = [{}] with the budget in {}, or run the new schedule as a "
           "new study (another study file name, so a new database and runs folder)",
           spec.source, fmt::join(wanted.rungs, ", "), wanted.unit, store.path().string(),
           fmt::join(recorded->rungs, ", "), recorded->unit, fmt::join(recorded->rungs, ", "), recorded->unit);
}

}  // namespace normscale
