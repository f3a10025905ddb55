// What a study ranks trials by and times them to (selection, halving, steps to target): the validation error
// (percent) unless the study says `select_by = "validation_loss"` or sets `target_validation_loss` — the only
// choice for data without classes (regression), whose runs record losses and no error.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace normscale {

enum class StudyMetric { kValidationError, kValidationLoss };

// The metrics.jsonl / results key: "validation_error" or "validation_loss".
const char* metric_key(StudyMetric metric);
// "validation error" or "validation loss" (prose and plot titles).
std::string_view metric_name(StudyMetric metric);
// An axis or column label: "validation error %" or "validation loss".
std::string_view metric_label(StudyMetric metric);
// A value as the study's output shows it: "12.50%" or "0.0312".
std::string metric_value_text(StudyMetric metric, double value);
// The same key on the test split ("test_error" / "test_loss"): the final figure plotted against batch size.
const char* metric_test_key(StudyMetric metric);
// The metric's value in one metrics record; nullopt when the record has none (no validation split, or a
// regression run asked for its error).
std::optional<double> metric_of(const nlohmann::json& record, StudyMetric metric);

// The other metric (error <-> loss).
StudyMetric other_metric(StudyMetric metric);
// What to tell a user whose done trials record only the other metric (a regression study left selecting by
// error): nothing can be selected, and which select_by would. Empty when some done trial has the metric, or none
// has the other.
std::string missing_metric_note(StudyMetric metric, bool any_has_metric, bool any_has_other);

// A target of the study: trials are timed to the first evaluation with metric <= value.
struct MetricTarget {
  StudyMetric metric = StudyMetric::kValidationError;
  double value = 0.0;
};
// "12.5% validation error" or "validation loss 0.05".
std::string target_text(const MetricTarget& target);
// The study key that sets it: "target_validation_error" or "target_validation_loss".
std::string_view target_key(StudyMetric metric);

}  // namespace normscale
