// sigtimedwait on the blocked scheduler signals.
#include "normscale/study/signal_watch.hpp"

#include "normscale/core/error.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

namespace normscale {

SignalWatch::SignalWatch() {
  sigemptyset(&watched_);
  sigaddset(&watched_, SIGINT);
  sigaddset(&watched_, SIGTERM);
  sigaddset(&watched_, SIGCHLD);
  NS_CHECK(sigprocmask(SIG_BLOCK, &watched_, &previous_) == 0, "blocking signals: {}", std::strerror(errno));
}

SignalWatch::~SignalWatch() { sigprocmask(SIG_SETMASK, &previous_, nullptr); }

std::optional<int> SignalWatch::wait(double seconds) {
  timespec timeout{};
  timeout.tv_sec = static_cast<time_t>(std::floor(seconds));
  timeout.tv_nsec = static_cast<long>((seconds - std::floor(seconds)) * 1e9);
  for (;;) {
    const int signal = sigtimedwait(&watched_, nullptr, &timeout);
    if (signal == SIGINT || signal == SIGTERM) {
      stop_signal_ = signal;
      return signal;
    }
    if (signal == SIGCHLD) {
      // Collect any further pending signal without waiting: a stop must not hide behind a SIGCHLD.
      timeout = timespec{};
      continue;
    }
    if (signal < 0 && errno == EINTR) continue;
    return std::nullopt;  // EAGAIN: nothing (more) pending
  }
}

}  // namespace normscale
