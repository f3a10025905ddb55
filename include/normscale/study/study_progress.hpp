// The scheduler's progress display on stderr: trials done / running / failed / pending and an ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace normscale {

struct StudyCounts {
  std::int64_t total = 0;
  std::int64_t done = 0;
  std::int64_t failed = 0;
  std::int64_t running = 0;
  std::int64_t pending = 0;
  std::int64_t queued = 0;  // of the running: waiting in SLURM's queue
  friend bool operator==(const StudyCounts&, const StudyCounts&) = default;
};

// "study sgd-batch: 3/8 done, 2 running, 1 failed, 2 pending, ETA 1m20s" (ETA left out when unknown; "2 running (1
// queued in SLURM)" when some wait in SLURM's queue).
std::string progress_line(std::string_view study, const StudyCounts& counts, std::optional<double> eta_seconds);

// Remaining time from this session's pace: (elapsed / trials finished) x trials still to finish,
// which accounts for trials running side by side. nullopt until one trial has finished.
std::optional<double> estimate_eta(double elapsed_seconds, std::int64_t finished_this_session,
                                   std::int64_t remaining);

// On a terminal one line rewritten in place (the ETA ticks); otherwise one line per change of the
// counts, so a log file gets a readable history.
class StudyProgress {
 public:
  StudyProgress(std::string study, std::FILE* stream, bool terminal);
  void update(const StudyCounts& counts, std::int64_t finished_this_session);
  void message(const std::string& line);  // a line of its own (a trial failed), not overwritten
  void finish();

 private:
  std::string study_;
  std::FILE* stream_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::optional<StudyCounts> shown_;
  bool line_open_ = false;
};

}  // namespace normscale
