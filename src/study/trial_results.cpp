// Reading metrics.jsonl into metric rows and final figures.
#include "normscale/study/trial_results.hpp"

#include "normscale/core/error.hpp"
#include "normscale/study/selection.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

namespace normscale {

TrialResults parse_trial_results(std::string_view jsonl, std::optional<MetricTarget> target,
                                 std::string_view source) {
  TrialResults results;
  nlohmann::json last;
  std::size_t line_number = 0;
  std::istringstream lines{std::string(jsonl)};
  std::string line;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) {
      // Only a killed writer's last line may be torn; anything else is a damaged file.
      NS_CHECK(lines.peek() == EOF, "{}:{}: not a JSON object; expected one metrics record per line",
               source, line_number);
      continue;
    }
    if (record.contains("event")) {
      if (record["event"] == "diverged") results.diverged = true;
      continue;
    }
    const auto step = record.find("step");
    NS_CHECK(step != record.end() && step->is_number_integer(), "{}:{}: a metrics record without an integer 'step'",
             source, line_number);
    const auto epoch = record.find("epoch");
    results.rows.push_back({step->get<std::int64_t>(),
                            epoch != record.end() && epoch->is_number() ? epoch->get<double>() : 0.0, line});
    last = record;
  }
  if (!last.is_object()) return results;
  for (const char* key : {"train_error", "validation_error", "test_error", "train_loss", "validation_loss",
                          "test_loss", "weight_norm", "support_fraction", "rho", "normalized_margin",
                          "constraints_violated", "complementary_slackness", "alpha_max"}) {
    if (const auto value = last.find(key); value != last.end() && value->is_number()) {
      results.figures.emplace_back(key, value->get<double>());
    }
  }
  const std::vector<EvaluationPoint> points =
      evaluation_points(results.rows, target ? target->metric : StudyMetric::kValidationError);
  results.figures.emplace_back("steps", static_cast<double>(results.rows.back().step));
  results.figures.emplace_back("epochs", results.rows.back().epoch);
  results.figures.emplace_back("train_seconds", points.empty() ? 0.0 : points.back().seconds);
  if (target) {
    // What steps_to_target was timed to: a report against a changed target times the trial again (selection.hpp).
    results.figures.emplace_back(target_key(target->metric), target->value);
    if (const auto reached = time_to_target(points, target->value)) {
      results.figures.emplace_back("steps_to_target", static_cast<double>(reached->steps));
      results.figures.emplace_back("seconds_to_target", reached->seconds);
    }
  }
  results.figures.emplace_back("diverged", results.diverged ? 1.0 : 0.0);
  return results;
}

TrialResults read_trial_results(const std::filesystem::path& run_dir, std::optional<MetricTarget> target) {
  const std::filesystem::path path = run_dir / "metrics.jsonl";
  std::ifstream file(path, std::ios::binary);
  if (!file.is_open()) return {};
  std::ostringstream text;
  text << file.rdbuf();
  return parse_trial_results(text.str(), target, path.string());
}

std::string log_tail(const std::filesystem::path& log, std::size_t max_lines, std::size_t max_bytes) {
  std::ifstream file(log, std::ios::binary);
  if (!file.is_open()) return {};
  file.seekg(0, std::ios::end);
  const std::streamoff size = file.tellg();
  // Read a little more than max_bytes so whole lines can be kept.
  const std::streamoff start = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(4 * max_bytes));
  file.seekg(start);
  std::string text(static_cast<std::size_t>(size - start), '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  const std::size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string tail;
  for (std::size_t i = first; i < lines.size(); ++i) tail += lines[i] + (i + 1 < lines.size() ? "\n" : "");
  if (tail.size() > max_bytes) tail = tail.substr(tail.size() - max_bytes);
  return tail;
}

}  // namespace normscale
