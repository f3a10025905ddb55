// The one-line console progress display of a training run (only the printing rank creates one).
#pragma once

#include "normscale/core/types.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

namespace normscale {

struct ProgressState {
  double epoch = 0.0;                     // fractional: 2.5 is half way through the third epoch
  Index step = 0;
  Index total_steps = 0;                  // 0 when unknown
  std::optional<double> train_error;      // percent
  std::optional<double> validation_error; // percent
  std::optional<double> train_loss;       // shown where there is no error (regression)
  std::optional<double> validation_loss;
  double samples_per_second = 0.0;
  std::optional<double> eta_seconds;      // time left; unknown until measured
};

// E.g. "epoch 2.50 | step 250/1000 | train 12.34% | val 13.00% | 1234 samples/s | ETA 0:01:05".
// Unknown parts are left out, except the ETA, which shows "ETA --:--:--". A split without an error (regression)
// shows its loss instead: "train loss 0.0123".
std::string format_progress(const ProgressState& state);

// Seconds as h:mm:ss (hours unbounded), rounded to the nearest second; "--:--:--" if not finite.
std::string format_duration(double seconds);

// Prints format_progress lines. On a terminal one line is redrawn in place ('\r', then the rest of
// the old line cleared); otherwise (logs, pipes) a plain line is printed at most every
// `min_interval_seconds`, so log files do not fill with progress.
class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;

  // `terminal` overrides the isatty() check (tests; forcing plain lines).
  explicit ProgressLine(std::FILE* out = stdout, double min_interval_seconds = 30.0,
                        std::optional<bool> terminal = std::nullopt);
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine();

  void update(const ProgressState& state) { update(state, Clock::now()); }
  void update(const ProgressState& state, Clock::time_point now);
  // Ends the progress line: a newline on a terminal; otherwise prints the latest state unless it
  // was already printed. Safe to call twice.
  void finish();

  bool is_terminal() const { return terminal_; }

 private:
  std::FILE* out_;
  double min_interval_seconds_;
  bool terminal_;
  bool line_open_ = false;                    // terminal: a progress line is on screen
  std::optional<Clock::time_point> last_print_;
  std::string pending_;                       // plain mode: latest line not yet printed
};

}  // namespace normscale
