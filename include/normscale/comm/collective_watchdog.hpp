// CollectiveWatchdog: notices a collective that has not completed within a time limit (a rank stopped,
// a hung node) and hands it to a handler on its own thread, because the thread inside the collective
// cannot notice anything until every rank has joined it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace normscale {

// The collective the watchdog found still waiting.
struct StalledCollective {
  const char* collective = "";  // "allreduce_sum", "allreduce_max", "broadcast", "barrier"
  std::size_t bytes = 0;        // this rank's buffer (0 for a barrier)
  std::int64_t step = 0;        // the training step set last (0: before the first step)
  double seconds = 0.0;         // how long it has waited when the handler runs
};

// A stalled collective as the communicator reports it: with where it waits and the limit it passed.
struct CollectiveTimeout {
  StalledCollective stalled;
  std::string host;
  int rank = 0;
  int ranks = 1;
  double timeout_seconds = 0.0;
};

class CollectiveWatchdog {
 public:
  using Handler = std::function<void(const StalledCollective&)>;

  // Starts the watchdog's thread. `on_stall` runs on that thread, at most once in the watchdog's life,
  // when one collective has been between begin() and end() for `timeout` or longer (finite, > 0; a
  // century at most). A collective during which this process itself was stopped (SIGSTOP: the watchdog
  // then runs more than 1 s late) gets a fresh `timeout` from the moment it runs again. `on_stall` is
  // expected to end the process (MpiComm aborts the job); if it returns, the watchdog stays quiet. An
  // exception escaping it ends the process (std::terminate), never a hang.
  CollectiveWatchdog(std::chrono::duration<double> timeout, Handler on_stall);
  // Stops and joins the thread; a handler already running is waited for.
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Around each blocking collective, on the thread that calls it. `collective` must outlive the call
  // (a string literal). A mutex held for a few stores, no system call: cheap beside any collective.
  void begin(const char* collective, std::size_t bytes) noexcept;
  void end() noexcept;
  void set_step(std::int64_t step) noexcept;

  std::chrono::duration<double> timeout() const { return timeout_; }

  // begin() on construction, end() on destruction, so a throwing collective still ends its watch.
  class Watch {
   public:
    Watch(CollectiveWatchdog* watchdog, const char* collective, std::size_t bytes) noexcept : watchdog_(watchdog) {
      if (watchdog_ != nullptr) watchdog_->begin(collective, bytes);
    }
    ~Watch() {
      if (watchdog_ != nullptr) watchdog_->end();
    }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    CollectiveWatchdog* watchdog_;
  };

 private:
  using Clock = std::chrono::steady_clock;
  void watch(Clock::time_point started);

  const Clock::duration timeout_;
  const Handler on_stall_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  bool active_ = false;  // a collective is between begin() and end()
  const char* collective_ = "";
  std::size_t bytes_ = 0;
  std::int64_t step_ = 0;
  Clock::time_point started_{};
  std::thread thread_;  // last: starts once the members it reads exist
};

}  // namespace normscale
