// What a running scheduler writes into the study database besides the trials' states: its own heartbeat
// (the claim that keeps a second scheduler, on this host or another, off the study) and each running
// trial's, taken from the trial's progress as the scheduler sees it (its log, metrics and checkpoints
// growing in its run directory), never from the trainer's ranks: a trial whose job hangs or vanished stops
// beating although SLURM may still list it as running.
#pragma once

#include "normscale/study/trial_store.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace normscale {

class StudyHeartbeat {
 public:
  // Seconds between two writes of one heartbeat (the database is shared with `study status` and reports).
  static constexpr double kWriteInterval = 5.0;

  // Claims the study for this process, which other schedulers may consider gone when unseen for
  // `stale_seconds`; throws naming the scheduler (host, pid, last seen) that holds it.
  StudyHeartbeat(TrialStore& store, const std::filesystem::path& study_file, double stale_seconds);
  StudyHeartbeat(const StudyHeartbeat&) = delete;
  StudyHeartbeat& operator=(const StudyHeartbeat&) = delete;
  ~StudyHeartbeat();  // gives the study up

  // Refreshes the scheduler's heartbeat (at most every kWriteInterval); call from the scheduler's loop.
  void beat();
  // Looks at trial `id`'s run directory: when it grew, records the trial's heartbeat (at most every
  // kWriteInterval). Returns the seconds since it last grew, or since restart() / the first look.
  double progress(const std::string& id, const std::filesystem::path& dir);
  // Starts the trial's clock again: it is not running now (queued, requeued), so no progress is due.
  void restart(const std::string& id);

 private:
  using Clock = std::chrono::steady_clock;
  struct Seen {
    std::uintmax_t size = 0;       // progress_size() at the last look
    Clock::time_point grew;
    std::optional<Clock::time_point> written;  // heartbeat last written
  };

  TrialStore& store_;
  std::string host_;
  std::int64_t pid_;
  Clock::time_point beaten_;
  std::map<std::string, Seen> trials_;
};

// How far a trial has got, as one growing number: the sizes of its log.txt and metrics.jsonl plus the
// step of its newest checkpoint.
std::uintmax_t progress_size(const std::filesystem::path& run_dir);

}  // namespace normscale
