// sigtimedwait on the blocked scheduler signals.
#include "normscale/study/signal_watch.hpp"

#include "normscale/core/error.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

namespace normscale {

namespace {

// The thread of the newest live SignalWatch (Linux thread id); 0 while none is alive.
std::atomic<pid_t> watching_thread{0};

// Runs on a thread that does not block the signal: hands it to the watching thread, where it is blocked and waits
// for wait(). Async-signal-safe: two system calls and a lock-free load.
void send_to_watching_thread(int signal) {
  const int saved_errno = errno;
  const pid_t thread = watching_thread.load();
  if (thread != 0) syscall(SYS_tgkill, getpid(), thread, signal);
  errno = saved_errno;
}

}  // namespace

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
  previous_watching_thread_ = watching_thread.exchange(static_cast<pid_t>(syscall(SYS_gettid)));
  struct sigaction forward {};
  forward.sa_handler = send_to_watching_thread;
  forward.sa_flags = SA_RESTART;
  sigfillset(&forward.sa_mask);
  for (int signal = 1; signal < NSIG; ++signal) {
    if (sigismember(&watched_, signal) != 1) continue;
    struct sigaction previous {};
    NS_CHECK(sigaction(signal, &forward, &previous) == 0, "handling signal {}: {}", signal, std::strerror(errno));
    previous_actions_.emplace_back(signal, previous);
  }
}

SignalWatch::~SignalWatch() {
  for (const auto& [signal, action] : previous_actions_) sigaction(signal, &action, nullptr);
  watching_thread.store(previous_watching_thread_);
  sigprocmask(SIG_SETMASK, &previous_, nullptr);
}

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
