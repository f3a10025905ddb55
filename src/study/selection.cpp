// Best hyperparameters per (regime, batch) and time to a target of the study metric.
#include "normscale/study/selection.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <utility>

namespace normscale {
namespace {

double number_or_zero(const nlohmann::json& record, const char* key) {
  const auto found = record.find(key);
  return found != record.end() && found->is_number() ? found->get<double>() : 0.0;
}

// The trials of one grid point within a (regime, batch) group.
struct Candidate {
  std::string grid;
  std::vector<const TrialSummary*> trials;
};

}  // namespace

std::vector<nlohmann::json> evaluation_records(std::span<const MetricRow> rows) {
  std::vector<nlohmann::json> records;
  for (const MetricRow& row : rows) {
    records.push_back(nlohmann::json::parse(row.json, nullptr, false));
    const nlohmann::json& record = records.back();
    if (record.is_discarded() || !record.is_object() || record.contains("event")) records.back() = nullptr;
  }
  return records;
}

std::vector<bool> kept_on_curve(std::span<const nlohmann::json> records) {
  std::vector<bool> kept(records.size(), false);
  const auto last = std::find_if(records.rbegin(), records.rend(), [](const auto& r) { return !r.is_null(); });
  const std::size_t last_index = static_cast<std::size_t>(records.rend() - last) - 1;
  for (std::size_t i = 0; i < records.size(); ++i) {
    kept[i] = !records[i].is_null() && (i == last_index || !records[i].value("off_cadence", false));
  }
  return kept;
}

std::vector<EvaluationPoint> evaluation_points(std::span<const MetricRow> rows, StudyMetric metric) {
  const std::vector<nlohmann::json> records = evaluation_records(rows);
  const std::vector<bool> kept = kept_on_curve(records);
  std::vector<EvaluationPoint> points;
  double training_seconds = 0.0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& record = records[i];
    if (record.is_null()) continue;
    training_seconds += number_or_zero(record, "time_compute_s") + number_or_zero(record, "time_comm_s") +
                        number_or_zero(record, "time_multiplier_s");
    // A record left off the curve still counts its interval's time toward the next one's.
    if (!kept[i]) continue;
    const MetricRow& row = rows[i];
    EvaluationPoint point;
    point.step = row.step;
    point.value = metric_of(record, metric);
    const auto wall = record.find("wall_seconds");
    point.seconds = wall != record.end() && wall->is_number() ? wall->get<double>() : training_seconds;
    points.push_back(point);
  }
  return points;
}

std::optional<TimeToTarget> time_to_target(std::span<const EvaluationPoint> points, double target) {
  for (const EvaluationPoint& point : points) {
    if (point.value && *point.value <= target) {
      return TimeToTarget{point.step, point.seconds};
    }
  }
  return std::nullopt;
}

bool timed_to(const std::map<std::string, double>& results, const std::optional<MetricTarget>& target) {
  const auto recorded = [&](StudyMetric metric) -> std::optional<double> {
    const auto found = results.find(std::string(target_key(metric)));
    return found == results.end() ? std::nullopt : std::optional<double>(found->second);
  };
  if (!target) return !recorded(StudyMetric::kValidationError) && !recorded(StudyMetric::kValidationLoss);
  // The same number read from the study file both times: compared exactly.
  return recorded(target->metric) == target->value;
}

void retime_to_target(std::map<std::string, double>& results, std::span<const MetricRow> rows,
                      const std::optional<MetricTarget>& target) {
  if (timed_to(results, target)) return;
  for (const StudyMetric metric : {StudyMetric::kValidationError, StudyMetric::kValidationLoss}) {
    results.erase(std::string(target_key(metric)));
  }
  results.erase("steps_to_target");
  results.erase("seconds_to_target");
  if (!target) return;
  results[std::string(target_key(target->metric))] = target->value;
  if (const auto reached = time_to_target(evaluation_points(rows, target->metric), target->value)) {
    results["steps_to_target"] = static_cast<double>(reached->steps);
    results["seconds_to_target"] = reached->seconds;
  }
}

std::vector<Selection> select_hyperparameters(std::span<const TrialSummary> trials) {
  // Groups and grid points in order of first appearance.
  std::vector<std::pair<std::pair<std::string, std::int64_t>, std::vector<Candidate>>> groups;
  for (const TrialSummary& trial : trials) {
    if (!trial.value && !trial.failed) continue;
    const std::pair<std::string, std::int64_t> key{trial.regime, trial.batch};
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (group == groups.end()) group = groups.insert(groups.end(), {key, {}});
    auto& candidates = group->second;
    auto candidate = std::find_if(candidates.begin(), candidates.end(),
                                  [&](const Candidate& c) { return c.grid == trial.grid_json; });
    if (candidate == candidates.end()) candidate = candidates.insert(candidates.end(), {trial.grid_json, {}});
    candidate->trials.push_back(&trial);
  }

  std::vector<Selection> selections;
  for (const auto& [key, candidates] : groups) {
    Selection selection;
    selection.regime = key.first;
    selection.batch = key.second;
    bool have_best = false;
    for (const Candidate& candidate : candidates) {
      double sum = 0.0;
      std::size_t valued = 0, failed = 0;
      for (const TrialSummary* trial : candidate.trials) {
        failed += trial->failed ? 1 : 0;
        if (!trial->value) continue;
        sum += *trial->value;
        ++valued;
      }
      // A failed (diverged) seed counts as an infinite error, as in halving: such a point's mean is infinite, so it
      // is chosen only where every point has one, then by the fewest failed seeds and the mean of the others.
      const double mean = sum / static_cast<double>(valued);
      const bool better = !have_best || failed < selection.best_failed ||
                          (failed == selection.best_failed && mean < selection.best_value);
      if (valued > 0 && better) {
        have_best = true;
        selection.best_failed = failed;
        selection.best_grid = candidate.grid;
        selection.best_value = mean;
        selection.best_trials.clear();
        for (const TrialSummary* trial : candidate.trials) {
          if (trial->value) selection.best_trials.push_back(trial->id);
        }
      }
      // A point counts as reaching the target only when every one of its trials does (a failed one does not).
      const bool all_reach = std::all_of(candidate.trials.begin(), candidate.trials.end(),
                                         [](const TrialSummary* t) { return t->to_target.has_value(); });
      if (!all_reach) continue;
      double steps = 0.0, seconds = 0.0;
      for (const TrialSummary* trial : candidate.trials) {
        steps += static_cast<double>(trial->to_target->steps);
        seconds += trial->to_target->seconds;
      }
      steps /= static_cast<double>(candidate.trials.size());
      seconds /= static_cast<double>(candidate.trials.size());
      if (!selection.steps_to_target || steps < *selection.steps_to_target) {
        selection.fastest_grid = candidate.grid;
        selection.steps_to_target = steps;
        selection.seconds_to_target = seconds;
      }
    }
    if (have_best) selections.push_back(std::move(selection));  // failed trials alone are no candidate
  }
  return selections;
}

}  // namespace normscale
