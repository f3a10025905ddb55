// CollectiveWatchdog: the collective's thread only records what it is waiting in; the watchdog's thread
// wakes at the current collective's deadline (or once per poll period when none is seen), so the calls
// on the collective's path never signal a condition variable (that would cost a system call each).
#include "normscale/comm/collective_watchdog.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace normscale {

namespace {

// A collective that begins while the watchdog sleeps is seen at the next wake; between wakes the
// watchdog looks at most this long away, so a stall is reported within timeout + this (at most 1 s).
std::chrono::steady_clock::duration poll_period(std::chrono::steady_clock::duration timeout) {
  return std::min<std::chrono::steady_clock::duration>(timeout, std::chrono::seconds(1));
}

// A wake this much later than asked for means the whole process was not running (see watch()).
constexpr std::chrono::seconds kLateWake{1};

std::chrono::steady_clock::duration checked_timeout(std::chrono::duration<double> timeout) {
  NS_CHECK(std::isfinite(timeout.count()) && timeout.count() > 0,
           "CollectiveWatchdog: the timeout must be a finite number of seconds > 0, got {}; hint: a timeout of "
           "0 means no watchdog, so do not construct one",
           timeout.count());
  // A century is forever for a training; the clamp keeps the conversion to integer ticks from overflowing.
  constexpr double kCentury = 100.0 * 365.25 * 24 * 3600;
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(std::min(timeout.count(), kCentury)));
}

}  // namespace

CollectiveWatchdog::CollectiveWatchdog(std::chrono::duration<double> timeout, Handler on_stall)
    : timeout_(checked_timeout(timeout)),
      on_stall_(std::move(on_stall)),
      thread_([this, created = Clock::now()] { watch(created); }) {}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  thread_.join();
}

void CollectiveWatchdog::begin(const char* collective, std::size_t bytes) noexcept {
  const Clock::time_point now = Clock::now();
  const std::lock_guard<std::mutex> lock(mutex_);
  active_ = true;
  collective_ = collective;
  bytes_ = bytes;
  started_ = now;
}

void CollectiveWatchdog::end() noexcept {
  const std::lock_guard<std::mutex> lock(mutex_);
  active_ = false;
}

void CollectiveWatchdog::set_step(std::int64_t step) noexcept {
  const std::lock_guard<std::mutex> lock(mutex_);
  step_ = step;
}

void CollectiveWatchdog::watch(Clock::time_point started) {
  std::unique_lock<std::mutex> lock(mutex_);
  const Clock::duration poll = poll_period(timeout_);
  Clock::time_point wake = started;  // when this thread was due to run
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    // Running far later than due: this process itself was stopped (SIGSTOP, a suspended machine) or
    // starved. That time is not the other ranks' fault: a stopped rank, continued, must not blame the
    // ones it kept waiting. When the stop began is unknown, so the collective gets a fresh timeout.
    if (active_ && now - wake > kLateWake) started_ = now;
    wake = now + poll;
    if (active_) {
      const Clock::time_point deadline = started_ + timeout_;
      if (now >= deadline) {
        const StalledCollective stalled{collective_, bytes_, step_,
                                        std::chrono::duration<double>(now - started_).count()};
        // Unlocked: the handler may take its time (write a record) while the collective's thread, should
        // the collective complete after all, carries on unhindered.
        lock.unlock();
        on_stall_(stalled);
        lock.lock();
        stop_requested_.wait(lock, [this] { return stopping_; });
        return;
      }
      wake = std::min(wake, deadline);
    }
    stop_requested_.wait_until(lock, wake, [this] { return stopping_; });
  }
}

}  // namespace normscale
