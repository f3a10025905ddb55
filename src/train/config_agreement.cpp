// check_same_configuration: one hash compared across ranks; only when it differs, rank 0's TOML text is
// broadcast and each rank names its first differing option.
#include "normscale/train/config_agreement.hpp"

#include "normscale/comm/agreement.hpp"
#include "normscale/core/error.hpp"
#include "normscale/train/config_io.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <utility>

namespace normscale {

namespace {

// "section.key" -> value for each "key = value" line, in order of appearance.
std::vector<std::pair<std::string, std::string>> options_of(const std::string& toml) {
  std::vector<std::pair<std::string, std::string>> options;
  std::istringstream lines(toml);
  std::string line;
  std::string section;
  while (std::getline(lines, line)) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2) + ".";
      continue;
    }
    const auto equals = line.find(" = ");
    if (equals == std::string::npos) continue;
    options.emplace_back(section + line.substr(0, equals), line.substr(equals + 3));
  }
  return options;
}

// Rank `root`'s text on every rank: its length, then its bytes.
std::string broadcast_text(Communicator& comm, const std::string& text, int root) {
  std::uint64_t length = text.size();
  comm.broadcast(std::as_writable_bytes(std::span<std::uint64_t>(&length, 1)), root);
  std::string received = comm.rank() == root ? text : std::string(length, '\0');
  comm.broadcast(std::as_writable_bytes(std::span<char>(received.data(), received.size())), root);
  return received;
}

}  // namespace

std::vector<OptionDifference> differing_options(const std::string& a_toml, const std::string& b_toml) {
  const auto a = options_of(a_toml);
  std::map<std::string, std::string> a_values(a.begin(), a.end());
  std::vector<OptionDifference> differences;
  for (const auto& [key, value] : options_of(b_toml)) {
    const auto found = a_values.find(key);
    const std::string a_value = found == a_values.end() ? "(not set)" : found->second;
    if (a_value != value) differences.push_back({key, a_value, value});
    if (found != a_values.end()) a_values.erase(found);
  }
  // What only a sets (options written only when set, at their default in b).
  for (const auto& [key, value] : a) {
    if (a_values.contains(key)) differences.push_back({key, value, "(not set)"});
  }
  return differences;
}

std::string first_differing_option(const std::string& root_toml, const std::string& toml, int rank) {
  const std::vector<OptionDifference> differences = differing_options(root_toml, toml);
  if (differences.empty()) return "";
  const OptionDifference& d = differences.front();
  return fmt::format("{} is {} on rank 0 but {} on rank {}", d.key, d.a, d.b, rank);
}

void check_same_configuration(Communicator& comm, const TrainConfig& config) {
  if (same_on_all_ranks(comm, config_hash(config))) return;
  const std::string toml = to_toml(config);
  const std::string root_toml = broadcast_text(comm, toml, 0);
  const std::string difference = first_differing_option(root_toml, toml, comm.rank());
  const std::string local_error =
      difference.empty() ? std::string()
                         : fmt::format("ranks disagree on the configuration: {}; hint: start every rank with the same "
                                       "command line, configuration file and --set options",
                                       difference);
  if (const std::optional<RankFailure> failure = agree_on_failure(comm, local_error)) {
    throw AgreedError(failure->message);
  }
  throw AgreedError("ranks disagree on the configuration (config hash), though every option reads the same; hint: "
                    "start every rank with the same normscale binary");
}

}  // namespace normscale
