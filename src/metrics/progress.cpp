// Progress line: pure formatting plus a printer that redraws on terminals and throttles elsewhere.
#include "normscale/metrics/progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unistd.h>

namespace normscale {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return "--:--:--";
  const auto total = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
}

std::string format_progress(const ProgressState& state) {
  std::string line = fmt::format("epoch {:.2f} | step {}", state.epoch, state.step);
  if (state.total_steps > 0) line += fmt::format("/{}", state.total_steps);
  if (state.train_error) {
    line += fmt::format(" | train {:.2f}%", *state.train_error);
  } else if (state.train_loss) {
    line += fmt::format(" | train loss {:.4g}", *state.train_loss);
  }
  if (state.validation_error) {
    line += fmt::format(" | val {:.2f}%", *state.validation_error);
  } else if (state.validation_loss) {
    line += fmt::format(" | val loss {:.4g}", *state.validation_loss);
  }
  line += fmt::format(" | {:.0f} samples/s", state.samples_per_second);
  line += " | ETA " + (state.eta_seconds ? format_duration(*state.eta_seconds) : std::string("--:--:--"));
  return line;
}

ProgressLine::ProgressLine(std::FILE* out, double min_interval_seconds, std::optional<bool> terminal)
    : out_(out), min_interval_seconds_(min_interval_seconds),
      terminal_(terminal ? *terminal : isatty(fileno(out)) != 0) {}

ProgressLine::~ProgressLine() {
  // Leave the shell prompt on its own line even when a run ends by exception.
  if (terminal_ && line_open_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

void ProgressLine::update(const ProgressState& state, Clock::time_point now) {
  const std::string line = format_progress(state);
  if (terminal_) {
    // "\x1b[K" clears what a longer previous line left to the right of the cursor.
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());
    std::fflush(out_);
    line_open_ = true;
    return;
  }
  const bool due = !last_print_ ||
                   std::chrono::duration<double>(now - *last_print_).count() >= min_interval_seconds_;
  if (!due) {
    pending_ = line;
    return;
  }
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
  last_print_ = now;
  pending_.clear();
}

void ProgressLine::finish() {
  if (terminal_) {
    if (line_open_) std::fputc('\n', out_);
    line_open_ = false;
  } else if (!pending_.empty()) {
    std::fprintf(out_, "%s\n", pending_.c_str());
    pending_.clear();
  }
  std::fflush(out_);
}

}  // namespace normscale
