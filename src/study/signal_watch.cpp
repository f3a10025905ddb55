// sigtimedwait on the blocked scheduler signals.
#include "normscale/study/signal_watch.hpp"

#include "normscale/core/error.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

namespace normscale {

SignalWatch::SignalWatch(std::initializer_list<int> also_stop) {
  sigemptyset(&watched_);
  sigemptyset(&stops_);
  const auto stop_on = [&](int signal) {
    sigaddset(&stops_, signal);
    sigaddset(&watched_, signal);
  };
  stop_on(SIGINT);
  stop_on(SIGTERM);
  for (const int signal : also_stop) stop_on(signal);
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
    if (signal > 0 && sigismember(&stops_, signal) == 1) {
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
