// A finished trial's run directory read back: its evaluations (metrics rows) and final figures.
#pragma once

#include "normscale/study/study_metric.hpp"
#include "normscale/study/trial_store.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace normscale {

struct TrialResults {
  std::vector<MetricRow> rows;                                // one per evaluation, in file order
  std::vector<std::pair<std::string, double>> figures;        // final figures by key
  bool diverged = false;                                      // the log ends with {"event":"diverged"}
};

// From the text of metrics.jsonl (`source` names it in errors). Figures, from the last evaluation:
// train_error, validation_error, test_error (percent; those present), train_loss, validation_loss, test_loss,
// weight_norm,
// support_fraction, constraints_violated, complementary_slackness and alpha_max (Minnorm), rho,
// normalized_margin (instruments), steps, epochs, train_seconds;
// with a `target` its value as target_validation_error or target_validation_loss, and steps_to_target and
// seconds_to_target when it is reached; diverged (0 or 1). Event lines
// are not evaluations and are left out of `rows`; a torn last line (a killed run) is skipped.
TrialResults parse_trial_results(std::string_view jsonl, std::optional<MetricTarget> target,
                                 std::string_view source);
// The same from <dir>/metrics.jsonl; a missing file gives no rows and no figures.
TrialResults read_trial_results(const std::filesystem::path& run_dir, std::optional<MetricTarget> target);

// The last `max_lines` lines of a log file (at most `max_bytes` bytes); "" when it cannot be read.
std::string log_tail(const std::filesystem::path& log, std::size_t max_lines = 30,
                     std::size_t max_bytes = 4096);

}  // namespace normscale
