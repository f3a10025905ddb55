// Joins a study's expansion with its database: records, results and parsed metrics per trial.
#include "normscale/study/report_data.hpp"

#include "normscale/core/error.hpp"
#include "normscale/study/rung_schedule.hpp"
#include "normscale/study/selection.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

namespace normscale {
namespace {

std::string grid_label_of(const Trial& trial) {
  std::string label;
  for (const ConfigOverride& item : trial.grid_point) {
    if (!label.empty()) label += ' ';
    label += fmt::format("{}={}", item.key, item.value);
  }
  return label;
}

// The numeric top-level figures of one metrics record, the numbers of its objects as "<object>.<key>"
// ("noise_scale.b_simple", ...), and each layer's Frobenius norm as "<layer>.frobenius" ("layer1.frobenius",
// ...).
MetricPoint metric_point(const MetricRow& row, const nlohmann::json& record) {
  MetricPoint point{row.step, row.epoch, {}};
  for (const auto& [key, value] : record.items()) {
    if (value.is_number()) point.values[key] = value.get<double>();
    if (!value.is_object()) continue;
    for (const auto& [inner, number] : value.items()) {
      if (number.is_number()) point.values[key + "." + inner] = number.get<double>();
    }
  }
  if (const auto layers = record.find("layers"); layers != record.end() && layers->is_array()) {
    for (const nlohmann::json& layer : *layers) {
      const auto name = layer.find("name");
      const auto norm = layer.find("frobenius");
      if (name != layer.end() && name->is_string() && norm != layer.end() && norm->is_number()) {
        point.values[name->get<std::string>() + ".frobenius"] = norm->get<double>();
      }
    }
  }
  return point;
}

}  // namespace

std::vector<MetricPoint> metric_points(std::span<const MetricRow> rows) {
  const std::vector<nlohmann::json> records = evaluation_records(rows);
  const std::vector<bool> kept = kept_on_curve(records);
  std::vector<MetricPoint> points;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (kept[i]) points.push_back(metric_point(rows[i], records[i]));
  }
  return points;
}

std::optional<double> ReportTrial::result(const std::string& key) const {
  const auto found = results.find(key);
  if (found == results.end()) return std::nullopt;
  return found->second;
}

std::string batch_label(std::int64_t batch) {
  return batch == kFullBatch ? std::string("full") : std::to_string(batch);
}

double batch_size(const StudyData& data, std::int64_t batch) {
  return static_cast<double>(batch == kFullBatch ? data.full_batch_size : batch);
}

StudyData load_study_data(const StudySpec& spec, const std::filesystem::path& database) {
  std::error_code error;
  NS_CHECK(std::filesystem::exists(database, error),
           "report: study database {} does not exist (expected the SQLite file that `normscale study "
           "run {}` fills; run the study first)",
           database.string(), spec.source);
  NS_CHECK(std::filesystem::is_regular_file(database, error),
           "report: study database {} is not a regular file (a folder or a device?); expected the SQLite file that "
           "`normscale study run {}` fills",
           database.string(), spec.source);
  const TrialStore store(database);
  // Read against another rung schedule (or none) the recorded rungs and early stops would be misreported.
  const std::vector<Trial> trials = expand(spec);
  check_rung_schedule(spec, trials, store);

  StudyData data;
  data.name = spec.name;
  for (const Regime& regime : spec.regimes) data.regimes.push_back(regime.name);
  data.batches = spec.batches;
  data.ranks = spec.ranks;
  data.full_batch_size = spec.full_batch_size;
  data.metric = spec.metric;
  data.target = spec.target;

  std::unordered_map<std::string, TrialRecord> stored;
  for (TrialRecord& record : store.trials()) {
    const std::string id = record.id;
    stored.emplace(id, std::move(record));
  }
  std::set<std::string> expanded;
  for (const Trial& trial : trials) {
    expanded.insert(trial.id);
    ReportTrial report;
    report.grid_label = grid_label_of(trial);
    report.lr = trial.config.optim.lr;
    if (const auto found = stored.find(trial.id); found != stored.end()) {
      report.record = found->second;
      report.results = store.results(trial.id);
      const std::vector<MetricRow> rows = store.metrics(trial.id);
      report.metrics = metric_points(rows);
      retime_to_target(report.results, rows, spec.target);
      const std::size_t last_rung = spec.halving ? spec.halving->rungs.size() - 1 : 0;
      report.short_of_budget = short_of_budget(report.record, last_rung);
    } else {
      // Not stored yet (the runner has not seen this version of the study): pending.
      report.record.id = trial.id;
      report.record.study = trial.study;
      report.record.batch = trial.batch;
      report.record.ranks = trial.ranks;
      report.record.seed = trial.seed;
      report.record.grid_json = grid_point_json(trial);
      report.record.warmup_epochs = trial.warmup_epochs;
    }
    // The study file names the regime; the database may hold an older name for the same config.
    report.record.regime = trial.regime;
    data.trials.push_back(std::move(report));
  }
  for (const auto& [id, record] : stored) {
    if (record.study == spec.name && !expanded.contains(id)) ++data.stale_trials;
  }
  // The full batch as trained (the first record's train_examples, written since 2026-12-06): the file's
  // full_batch_size (default 50000) is needed only by the learning-rate scaling rule, and may not be given.
  std::set<double> recorded;
  for (const ReportTrial& trial : data.trials) {
    if (trial.record.batch != kFullBatch) continue;
    for (const MetricPoint& point : trial.metrics) {
      if (const auto found = point.values.find("train_examples"); found != point.values.end()) {
        recorded.insert(found->second);
        break;
      }
    }
  }
  if (recorded.size() == 1 && *recorded.begin() >= 1) {
    data.full_batch_size = std::llround(*recorded.begin());
    data.full_batch_recorded = true;
  }
  return data;
}

std::string full_batch_scaling_note(const StudySpec& spec, const StudyData& data) {
  if (spec.lr_scaling == LrScaling::kNone || !data.full_batch_recorded ||
      data.full_batch_size == spec.full_batch_size) {
    return {};
  }
  const double used = lr_scale_factor(spec.lr_scaling, kFullBatch, spec.base_batch, spec.full_batch_size);
  const double right = lr_scale_factor(spec.lr_scaling, kFullBatch, spec.base_batch, data.full_batch_size);
  return fmt::format(
      "The study file's full_batch_size = {} scaled the learning rate of the full-batch trials (lr_scaling = {}), but "
      "they trained on {} examples: their learning rate is {:.4g}x what the rule gives for their batch (where a regime "
      "does not give it at that batch); set full_batch_size = {}.",
      spec.full_batch_size, lr_scaling_name(spec.lr_scaling), data.full_batch_size, used / right, data.full_batch_size);
}

}  // namespace normscale
