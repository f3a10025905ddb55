// Hyperparameter selection as in Shallue et al. 2018: per (regime, batch size) the best grid point by the study
// metric (validation error, or loss: study_metric.hpp), and the steps and training time to reach a target of it.
#pragma once

#include "normscale/study/study_metric.hpp"
#include "normscale/study/trial_store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace normscale {

// One evaluation of a trial: its step, the study metric (absent without a validation split, or for an error
// of a regression run) and the training time up to it.
struct EvaluationPoint {
  std::int64_t step = 0;
  std::optional<double> value;
  double seconds = 0.0;
};

// A trial's metrics rows parsed, one per row: the JSON object of an evaluation, null for an event or a torn line.
std::vector<nlohmann::json> evaluation_records(std::span<const MetricRow> rows);

// Which of those records a trial's curve keeps: every evaluation but one a run made only because it ended between
// eval_every's ("off_cadence": a halving rung's end) and that is not the trial's last, since the run that went
// straight through has no evaluation there. Steps to target (evaluation_points) and the report's curves
// (metric_points) both go by it.
std::vector<bool> kept_on_curve(std::span<const nlohmann::json> records);

// The evaluations of metrics rows (those kept_on_curve), in order. The time is `wall_seconds` when a row has it, else
// the running sum of the intervals' time_compute_s + time_comm_s + time_multiplier_s (training time, evaluations
// excluded; it carries over a resume, since the rows before the checkpoint are kept).
std::vector<EvaluationPoint> evaluation_points(std::span<const MetricRow> rows, StudyMetric metric);

struct TimeToTarget {
  std::int64_t steps = 0;
  double seconds = 0.0;
};
// The first evaluation with value <= target; nullopt when none reaches it.
std::optional<TimeToTarget> time_to_target(std::span<const EvaluationPoint> points, double target);

// A trial's results (key -> value) timed to `target`, the study's target as its file says now. The results record
// the target they were timed to when the trial ended (target_validation_error or target_validation_loss, beside
// steps_to_target and seconds_to_target); where it differs (the target was changed, added or removed since), the
// steps and seconds are computed again from the trial's metrics `rows`, or dropped without a target. Results
// without a recorded target in a study without one are left as they are.
void retime_to_target(std::map<std::string, double>& results, std::span<const MetricRow> rows,
                      const std::optional<MetricTarget>& target);
// Whether retime_to_target would leave `results` as they are (so the rows need not be read).
bool timed_to(const std::map<std::string, double>& results, const std::optional<MetricTarget>& target);

// What selection needs of one finished trial.
struct TrialSummary {
  std::string id;
  std::string regime;
  std::int64_t batch = 0;
  std::string grid_json;                    // the hyperparameter point (seeds and ranks aside)
  std::optional<double> value;              // the study metric, final; absent: the trial is no candidate
  std::optional<TimeToTarget> to_target;    // absent: did not reach the target
  // Ended without finishing (diverged, crashed; no value): its point does not count as reaching the target, as
  // Shallue et al. count a diverged trial as infeasible.
  bool failed = false;
};

struct Selection {
  std::string regime;
  std::int64_t batch = 0;
  // The grid point with the lowest study metric averaged over its trials (seeds, rank counts); a failed trial counts
  // as an infinite value (Shallue et al.: infeasible), so a point with one is chosen only where every point has one:
  // then the point with the fewest failed trials, and among those the lowest mean of the others.
  std::string best_grid;
  double best_value = 0.0;  // the mean over the trials with a value
  std::vector<std::string> best_trials;  // those trials
  std::size_t best_failed = 0;           // the point's failed trials
  // The grid point whose trials all reach the target in the fewest steps on average (absent: none does).
  std::optional<std::string> fastest_grid;
  std::optional<double> steps_to_target;    // mean over the fastest point's trials
  std::optional<double> seconds_to_target;
};

// One Selection per (regime, batch) with at least one candidate (a trial with a value), in order of first appearance.
// Ties go to the grid point seen first. Pure.
std::vector<Selection> select_hyperparameters(std::span<const TrialSummary> trials);

}  // namespace normscale
