// The scheduler's signals, taken synchronously: SIGINT and SIGTERM (stop), any further stop signals its
// owner names (the local scheduler: SIGUSR2, stop at a checkpoint) and SIGCHLD (a trial ended).
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

namespace normscale {

// Blocks SIGINT, SIGTERM, `also_stop` and SIGCHLD in the constructing thread for its lifetime (restoring the previous
// mask afterwards), so they wait in the kernel until wait() takes them: no flags shared with a handler. Threads that
// already run (OpenBLAS starts its pool when the library loads) still take a signal sent to the process: a handler,
// installed for the same lifetime, sends it on to the constructing thread, where it waits like the others (without
// it the default action of SIGTERM on such a thread ended the scheduler without stopping its trials).
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
  std::vector<std::pair<int, struct sigaction>> previous_actions_;
  pid_t previous_watching_thread_ = 0;
  std::optional<int> stop_signal_;
};

}  // namespace normscale
