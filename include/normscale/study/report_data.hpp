// A study's trials as the report sees them: the expansion of the study file joined with the database.
#pragma once

#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace normscale {

// One evaluation of a trial's metrics.jsonl, the figures the plots use (absent keys stay empty).
struct MetricPoint {
  std::int64_t step = 0;
  double epoch = 0.0;
  // validation_error, validation_loss, weight_norm, support_fraction, samples_per_s, ...,
  // "noise_scale.b_simple", ... (an object's numbers), and "layer1.frobenius", ...
  std::map<std::string, double> values;
};

struct ReportTrial {
  TrialRecord record;
  std::string grid_label;                 // "optim.lr=0.1 objective.s=0.0002", "" without a grid
  double lr = 0.0;                        // optim.lr as trained (after batch scaling)
  std::map<std::string, double> results;  // the results table, by key
  std::vector<MetricPoint> metrics;       // by step
  // Successive halving: done at a rung below the last (stopped early, or not promoted yet), so its figures are
  // those of a shorter budget than its point's other trials may have: counted, never averaged or compared.
  bool short_of_budget = false;

  std::optional<double> result(const std::string& key) const;
  // Done at the study's full budget: what the tables, selection and plots average and compare.
  bool done() const { return record.state == TrialState::kDone && !short_of_budget; }
};

struct StudyData {
  std::string name;
  std::vector<std::string> regimes;       // study-file order
  std::vector<std::int64_t> batches;      // study-file order (kFullBatch for "full")
  std::vector<std::int64_t> ranks;
  // Batch "full" in examples: what its trials recorded as their training set (train_examples) where they agree,
  // else the study file's full_batch_size (full_batch_recorded false).
  std::int64_t full_batch_size = 50000;
  bool full_batch_recorded = false;
  StudyMetric metric = StudyMetric::kValidationError;  // what selection ranks by (select_by)
  std::optional<MetricTarget> target;     // what steps/seconds_to_target measure
  std::vector<ReportTrial> trials;        // expansion order
  std::size_t stale_trials = 0;           // database trials of this study the file no longer expands to
};

// The evaluations of a trial's metrics rows that its curve keeps (kept_on_curve in selection.hpp), by step, as
// MetricPoints.
std::vector<MetricPoint> metric_points(std::span<const MetricRow> rows);

// Expands `spec`, reads its trials, results and metrics from `database` (which must exist: the
// runner creates it). A trial the runner has not stored yet is reported as pending.
StudyData load_study_data(const StudySpec& spec, const std::filesystem::path& database);

// Where the study file's full_batch_size scaled the learning rate of its full-batch trials (lr_scaling) and they
// recorded another training-set size: a note saying so, with the factor it put on their learning rate; else "".
std::string full_batch_scaling_note(const StudySpec& spec, const StudyData& data);

// "128", or "full" for kFullBatch.
std::string batch_label(std::int64_t batch);
// The global batch size of a study's batch: "full" is the study's full_batch_size.
double batch_size(const StudyData& data, std::int64_t batch);

}  // namespace normscale
