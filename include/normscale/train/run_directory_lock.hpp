// Who owns a run directory and whether its run finished: the lock a live trainer holds on it, the
// marker a finished run leaves in it, and its configuration and final evaluation read back.
#pragma once

#include "normscale/core/holder_lock.hpp"
#include "normscale/train/config.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace normscale {

// <out>/run.lock, a HolderLock taken by rank 0 for the whole run, so two trainings never share a directory
// (they would overwrite each other's checkpoints and metrics); a second trainer's error names the holder.
class RunDirectoryLock {
 public:
  // Creates `out` if needed and takes the lock, or throws naming the holder (host, pid).
  explicit RunDirectoryLock(const std::filesystem::path& out);
  RunDirectoryLock(const RunDirectoryLock&) = delete;
  RunDirectoryLock& operator=(const RunDirectoryLock&) = delete;
  // A directory this lock created that holds nothing but run.lock (a run refused before it wrote anything)
  // is removed: run.lock while still held (a trainer starting now finds no lock to share), then the folder.
  ~RunDirectoryLock();

 private:
  std::filesystem::path out_;
  bool created_ = false;
  std::unique_ptr<HolderLock> lock_;
};

// <out>/finished.json: written atomically by rank 0 as the very last step of a run that completed (all
// outputs written), removed when a run starts training. A run that dies (a signal, MPI_Abort, a node
// lost) cannot be trusted to report its own end, so the marker only ever says "finished": a process
// gone without it did not finish, and the study scheduler resumes it from its checkpoint.
std::filesystem::path finished_marker(const std::filesystem::path& out);
void mark_run_finished(const std::filesystem::path& out);
void clear_finished_marker(const std::filesystem::path& out);

// The evaluation records of <out>/metrics.jsonl in order (event lines and a torn last line skipped).
std::vector<nlohmann::json> evaluation_records(const std::filesystem::path& out);
// The last of them; an empty object when there is none.
nlohmann::json last_evaluation_record(const std::filesystem::path& out);

// <out>/config.toml as the run owning the directory wrote it: its text and the configuration it reads as; none
// where it is missing or does not read (a damaged file, an older build's options).
struct RecordedConfig {
  std::string text;
  TrainConfig config;
};
std::optional<RecordedConfig> recorded_config(const std::filesystem::path& out);

}  // namespace normscale
