// The scheduler's claim on its study and the running trials' heartbeats.
#include "normscale/study/study_heartbeat.hpp"

#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace normscale {

std::uintmax_t progress_size(const std::filesystem::path& run_dir) {
  std::uintmax_t size = 0;
  for (const char* file : {"log.txt", "metrics.jsonl"}) {
    std::error_code error;
    const std::uintmax_t bytes = std::filesystem::file_size(run_dir / file, error);
    if (!error) size += bytes;
  }
  try {
    const std::vector<std::string> checkpoints = list_checkpoints(run_dir.string());  // newest first
    if (!checkpoints.empty()) {
      size += static_cast<std::uintmax_t>(parse_step_dir_name(std::filesystem::path(checkpoints.front()).filename()));
    }
  } catch (const std::exception&) {
    // A checkpoints folder that cannot be listed now says nothing about progress.
  }
  return size;
}

StudyHeartbeat::StudyHeartbeat(TrialStore& store, const std::filesystem::path& study_file, double stale_seconds)
    : store_(store), host_(host_name()), pid_(getpid()), beaten_(Clock::now()) {
  const std::optional<SchedulerRecord> other = store_.claim_scheduler(host_, pid_, stale_seconds);
  NS_CHECK(!other, "study {}: another `normscale study run` is running this study (host {}, pid {}, since {}; last "
           "seen {:.0f} s ago, per {}); wait for it (or stop it there) and run again. A scheduler unseen for {:.0f} s "
           "counts as gone",
           study_file.string(), other->host, other->pid, other->started, other->seconds_since_seen,
           store_.path().string(), other->stale_seconds);
}

StudyHeartbeat::~StudyHeartbeat() {
  try {
    store_.release_scheduler(host_, pid_);
  } catch (const Error&) {
    // The database failed; the claim goes stale by itself.
  }
}

void StudyHeartbeat::beat() {
  const Clock::time_point now = Clock::now();
  if (std::chrono::duration<double>(now - beaten_).count() < kWriteInterval) return;
  store_.refresh_scheduler(host_, pid_);
  beaten_ = now;
}

double StudyHeartbeat::progress(const std::string& id, const std::filesystem::path& dir) {
  const Clock::time_point now = Clock::now();
  const std::uintmax_t size = progress_size(dir);
  auto [seen, first] = trials_.try_emplace(id, Seen{size, now, std::nullopt});
  if (size != seen->second.size) {
    seen->second.size = size;
    seen->second.grew = now;
  }
  // Written when it grew since the last write, and not more often than kWriteInterval.
  const bool due = !seen->second.written ||
                   std::chrono::duration<double>(now - *seen->second.written).count() >= kWriteInterval;
  if (due && (!seen->second.written || seen->second.grew > *seen->second.written) && !first) {
    store_.set_heartbeat(id);
    seen->second.written = now;
  }
  return std::chrono::duration<double>(now - seen->second.grew).count();
}

void StudyHeartbeat::restart(const std::string& id) { trials_.erase(id); }

}  // namespace normscale
