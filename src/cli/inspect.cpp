// Reads the last evaluation record of metrics.jsonl and lays it out for a terminal.
#include "normscale/cli/inspect.hpp"

#include "normscale/core/error.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace normscale {

namespace {

std::string format_scalar(const nlohmann::json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return fmt::format("{}", value.get<long long>());
  if (value.is_number_float()) return fmt::format("{:.6g}", value.get<double>());
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// The table of one evaluation record; a field of another type than normscale writes throws json's type error.
std::string evaluation_table(const std::string& run_dir, const nlohmann::json& last) {
  // get<long long> of a float step (1e300) would be undefined: a step is an integer as normscale writes it.
  if (!last["step"].is_number_integer()) throw nlohmann::json::type_error::create(302, "step is not an integer", &last);
  std::string table = fmt::format("run {} — step {}, epoch {:.2f}\n", run_dir, last["step"].get<long long>(),
                                  last.value("epoch", 0.0));
  for (const auto& [key, value] : last.items()) {
    if (key == "step" || key == "epoch" || key == "layers" || value.is_array() || value.is_object()) continue;
    table += fmt::format("  {:<24} {}\n", key, format_scalar(value));
  }
  for (const auto& [key, value] : last.items()) {
    if ((value.is_array() || value.is_object()) && key != "layers") {
      table += fmt::format("  {:<24} {}\n", key, value.dump());
    }
  }
  if (last.contains("layers") && last["layers"].is_array()) {
    table += fmt::format("\n  {:<10} {:>12} {:>12} {:>12}\n", "layer", "frobenius", "spectral", "stable rank");
    for (const auto& layer : last["layers"]) {
      table += fmt::format("  {:<10} {:>12.6g} {:>12.6g} {:>12.6g}\n", layer.value("name", std::string("?")),
                           layer.value("frobenius", 0.0), layer.value("spectral", 0.0),
                           layer.value("stable_rank", 0.0));
    }
  }
  return table;
}

}  // namespace

std::string inspect_run(const std::string& run_dir) {
  const std::string path = (std::filesystem::path(run_dir) / "metrics.jsonl").string();
  std::error_code ec;
  NS_CHECK(!std::filesystem::is_directory(path, ec),
           "inspect: {} is a folder; expected the run directory of a "
           "`normscale train` run, which holds the file metrics.jsonl",
           path);
  std::ifstream in(path);
  NS_CHECK(in.good(), "inspect: cannot read {}; expected the run directory of a `normscale train` run", path);
  nlohmann::json last;
  std::string line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    // Only evaluations: the divergence marker and a torn last line (a killed run) are skipped.
    if (record.is_object() && record.contains("step") && !record.contains("event")) last = std::move(record);
  }
  NS_CHECK(last.is_object(), "inspect: {} holds no evaluation yet", path);
  try {
    return evaluation_table(run_dir, last);
  } catch (const nlohmann::json::exception& error) {
    NS_FAIL("inspect: {}: its last evaluation record is not as normscale writes it ({}); hint: is this file a "
            "normscale run's metrics log?",
            path, error.what());
  }
}

}  // namespace normscale
