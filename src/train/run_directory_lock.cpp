// The run directory's lock (a HolderLock on run.lock), its finished marker and
// its last evaluation record.
#include "normscale/train/run_directory_lock.hpp"

#include "normscale/core/atomic_file.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"
#include "normscale/train/config_io.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace normscale {

RunDirectoryLock::RunDirectoryLock(const std::filesystem::path& out) : out_(out) {
  std::error_code error;
  created_ = !std::filesystem::exists(out, error);
  std::filesystem::create_directories(out, error);
  NS_CHECK(!error, "run directory {}: cannot be created: {}; check the path and its permissions", out.string(),
           error.message());
  const std::filesystem::path file = out / "run.lock";
  lock_ = std::make_unique<HolderLock>(file);
  if (!lock_->held()) {
    NS_FAIL("run directory {} is in use by another training ({}, per {}); wait for it to end or stop it, or "
            "train into another --out",
            out.string(), lock_->holder(), file.string());
  }
}

RunDirectoryLock::~RunDirectoryLock() {
  if (!created_ || !lock_ || !lock_->held()) return;
  std::error_code error;
  std::filesystem::directory_iterator entry(out_, error);
  const std::filesystem::directory_iterator end;
  if (error || entry == end || entry->path().filename() != "run.lock") return;
  entry.increment(error);
  if (error || entry != end) return;
  std::filesystem::remove(out_ / "run.lock", error);
  if (!error) std::filesystem::remove(out_, error);  // not if anything appeared meanwhile
}

std::filesystem::path finished_marker(const std::filesystem::path& out) { return out / "finished.json"; }

void mark_run_finished(const std::filesystem::path& out) {
  write_file_atomically(finished_marker(out).string(),
                        nlohmann::json{{"finished", true}, {"host", host_name()}, {"pid", getpid()}}.dump() + "\n");
}

void clear_finished_marker(const std::filesystem::path& out) {
  std::error_code error;
  std::filesystem::remove(finished_marker(out), error);
  NS_CHECK(!error, "run directory {}: cannot remove {}: {}; check the directory is writable", out.string(),
           finished_marker(out).string(), error.message());
}

std::vector<nlohmann::json> evaluation_records(const std::filesystem::path& out) {
  std::ifstream file(out / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(file, line);) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object() || record.contains("event") || !record.contains("step")) {
      continue;
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::optional<RecordedConfig> recorded_config(const std::filesystem::path& out) {
  const std::filesystem::path file = out / "config.toml";
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) return std::nullopt;
  try {
    RecordedConfig recorded;
    recorded.text = read_config_file(file);
    recorded.config = config_from_toml(recorded.text, file.string());
    return recorded;
  } catch (const Error&) {
    return std::nullopt;
  }
}

nlohmann::json last_evaluation_record(const std::filesystem::path& out) {
  std::vector<nlohmann::json> records = evaluation_records(out);
  return records.empty() ? nlohmann::json::object() : std::move(records.back());
}

}  // namespace normscale
