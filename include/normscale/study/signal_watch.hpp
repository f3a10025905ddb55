// The scheduler's signals, taken synchronously: SIGINT and SIGTERM (stop), any further stop signals its
// owner names (the local scheduler: SIGUSR2, stop at a checkpoint) and SIGCHLD (a trial ended).
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>

namespace normscale {

// Blocks SIGINT, SIGTERM, `also_stop` and SIGCHLD for its lifetime (restoring the previous mask
// afterwards), so they wait in the kernel until wait() takes them: no handlers, no flags shared with a handler.
class SignalWatch {
 public:
  explicit SignalWatch(std::initializer_list<int> also_stop = {});
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  ~SignalWatch();

  // Waits up to `seconds` for one of the signals; returns the stop signal when a stop was asked
  // (remembered in stop_signal()), nullopt on SIGCHLD or the timeout.
  std::optional<int> wait(double seconds);
  // Takes pending signals without waiting (same result as wait).
  std::optional<int> poll() { return wait(0.0); }
  std::optional<int> stop_signal() const { return stop_signal_; }

 private:
  sigset_t watched_;
  sigset_t stops_;
  sigset_t previous_;
  std::optional<int> stop_signal_;
};

}  // namespace normscale
