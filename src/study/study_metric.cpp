// The study's ranking metric: keys, names and how its values read.
#include "normscale/study/study_metric.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace normscale {

const char* metric_key(StudyMetric metric) {
  return metric == StudyMetric::kValidationError ? "validation_error" : "validation_loss";
}

std::string_view metric_name(StudyMetric metric) {
  return metric == StudyMetric::kValidationError ? "validation error" : "validation loss";
}

std::string_view metric_label(StudyMetric metric) {
  return metric == StudyMetric::kValidationError ? "validation error %" : "validation loss";
}

std::string metric_value_text(StudyMetric metric, double value) {
  return metric == StudyMetric::kValidationError ? fmt::format("{:.2f}%", value) : fmt::format("{:.4g}", value);
}

const char* metric_test_key(StudyMetric metric) {
  return metric == StudyMetric::kValidationError ? "test_error" : "test_loss";
}

std::optional<double> metric_of(const nlohmann::json& record, StudyMetric metric) {
  if (!record.is_object()) return std::nullopt;
  const auto value = record.find(metric_key(metric));
  if (value == record.end() || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

StudyMetric other_metric(StudyMetric metric) {
  return metric == StudyMetric::kValidationError ? StudyMetric::kValidationLoss : StudyMetric::kValidationError;
}

std::string missing_metric_note(StudyMetric metric, bool any_has_metric, bool any_has_other) {
  if (any_has_metric || !any_has_other) return {};
  const StudyMetric other = other_metric(metric);
  return fmt::format("No done trial recorded a {} (they record the {}): nothing is selected; set select_by = "
                     "\"{}\" in the study file.",
                     metric_name(metric), metric_name(other), metric_key(other));
}

std::string target_text(const MetricTarget& target) {
  return target.metric == StudyMetric::kValidationError ? fmt::format("{:g}% validation error", target.value)
                                                        : fmt::format("validation loss {:g}", target.value);
}

std::string_view target_key(StudyMetric metric) {
  return metric == StudyMetric::kValidationError ? "target_validation_error" : "target_validation_loss";
}

}  // namespace normscale
