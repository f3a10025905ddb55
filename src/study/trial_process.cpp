// A process's identity from /proc, so a restarted scheduler never takes a reused pid for its trial.
#include "normscale/study/trial_process.hpp"

#include "normscale/core/host_name.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace normscale {
namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

}  // namespace


std::string this_boot_id() { return read_first_line("/proc/sys/kernel/random/boot_id"); }

std::optional<std::int64_t> parse_process_start(std::string_view stat) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields count from the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::istringstream fields{std::string(stat.substr(close + 1))};
  std::vector<std::string> rest;  // rest[0] is field 3 (state), so field 22 is rest[19]
  for (std::string field; fields >> field && rest.size() < 20;) rest.push_back(field);
  if (rest.size() < 20 || rest[0] == "Z" || rest[0] == "X") return std::nullopt;
  std::int64_t ticks = 0;
  const std::string& start = rest[19];
  const auto [end, error] = std::from_chars(start.data(), start.data() + start.size(), ticks);
  if (error != std::errc() || end != start.data() + start.size()) return std::nullopt;
  return ticks;
}

std::optional<std::int64_t> process_start(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::ostringstream text;
  text << file.rdbuf();
  return parse_process_start(text.str());
}

TrialProcess identify_process(pid_t pid) {
  TrialProcess process;
  process.host = host_name();
  process.boot_id = this_boot_id();
  process.pid = pid;
  process.start_ticks = process_start(pid).value_or(0);
  return process;
}

bool on_this_machine(const TrialProcess& process) {
  return process.host == host_name() && process.boot_id == this_boot_id();
}

bool process_alive(const TrialProcess& process) {
  if (process.pid <= 0 || !on_this_machine(process)) return false;
  const std::optional<std::int64_t> start = process_start(static_cast<pid_t>(process.pid));
  return start.has_value() && *start == process.start_ticks;
}

}  // namespace normscale
