// Formatting and printing the study progress line.
#include "normscale/study/study_progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace normscale {
namespace {

std::string format_duration(double seconds) {
  const auto total = static_cast<std::int64_t>(std::llround(std::max(seconds, 0.0)));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

}  // namespace

std::string progress_line(std::string_view study, const StudyCounts& counts, std::optional<double> eta_seconds) {
  const std::string queued = counts.queued > 0 ? fmt::format(" ({} queued in SLURM)", counts.queued) : std::string();
  std::string line = fmt::format("study {}: {}/{} done, {} running{}, {} failed, {} pending", study, counts.done,
                                 counts.total, counts.running, queued, counts.failed, counts.pending);
  if (eta_seconds) line += ", ETA " + format_duration(*eta_seconds);
  return line;
}

std::optional<double> estimate_eta(double elapsed_seconds, std::int64_t finished_this_session,
                                   std::int64_t remaining) {
  if (finished_this_session <= 0) return std::nullopt;
  return elapsed_seconds / static_cast<double>(finished_this_session) * static_cast<double>(remaining);
}

StudyProgress::StudyProgress(std::string study, std::FILE* stream, bool terminal)
    : study_(std::move(study)), stream_(stream), terminal_(terminal) {}

void StudyProgress::update(const StudyCounts& counts, std::int64_t finished_this_session) {
  if (!terminal_ && shown_ == counts) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = progress_line(
      study_, counts, estimate_eta(elapsed, finished_this_session, counts.running + counts.pending));
  if (terminal_) {
    fmt::print(stream_, "\r\033[K{}", line);
    line_open_ = true;
  } else {
    fmt::print(stream_, "{}\n", line);
  }
  std::fflush(stream_);
  shown_ = counts;
}

void StudyProgress::message(const std::string& line) {
  if (line_open_) fmt::print(stream_, "\r\033[K");
  fmt::print(stream_, "{}\n", line);
  line_open_ = false;
  std::fflush(stream_);
}

void StudyProgress::finish() {
  if (line_open_) fmt::print(stream_, "\n");
  line_open_ = false;
  std::fflush(stream_);
}

}  // namespace normscale
