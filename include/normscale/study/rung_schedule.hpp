// A halving study's rung schedule against the one its database recorded when it first ran.
#pragma once

#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"

#include <span>

namespace normscale {

// The rung schedule `spec` (with [halving]) runs with, as the database records it. `reduction` and `mode` are
// not part of it: the planner decides afresh from the recorded errors at every step, so they may change.
RungSchedule rung_schedule_of(const StudySpec& spec);

// Refuses, before anything is changed, a study whose [halving] rungs (or budget unit) differ from those its
// database recorded when it first ran: recorded rung indices would be read against other budgets; a study without
// [halving] whose database recorded a schedule: its early-stopped trials would pass for finished ones; and a study
// given [halving] after it ran without (the database records an empty schedule then) where any of `trials` ran:
// its full-budget runs would pass for rung results. A database without a recorded schedule (new, or from before
// schema 6) passes; run_study records it then.
void check_rung_schedule(const StudySpec& spec, std::span<const Trial> trials, const TrialStore& store);

}  // namespace normscale
