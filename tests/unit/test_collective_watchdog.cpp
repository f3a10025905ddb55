// CollectiveWatchdog without MPI: a fake collective (begin, a wait, end) that overruns the timeout fires
// the handler once with its description; collectives that finish in time, however many, never do.
#include "normscale/comm/collective_watchdog.hpp"
#include "normscale/core/error.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace normscale {
namespace {

using namespace std::chrono_literals;

// What the handler saw, copied out of the watchdog's thread.
struct Firings {
  std::mutex mutex;
  std::vector<StalledCollective> seen;
  std::vector<std::string> names;  // StalledCollective::collective points at the caller's literal

  CollectiveWatchdog::Handler handler() {
    return [this](const StalledCollective& stalled) {
      const std::lock_guard<std::mutex> lock(mutex);
      seen.push_back(stalled);
      names.emplace_back(stalled.collective);
    };
  }
  std::size_t count() {
    const std::lock_guard<std::mutex> lock(mutex);
    return seen.size();
  }
};

TEST(CollectiveWatchdog, ACollectiveThatOverrunsFiresTheHandlerOnceWithItsDescription) {
  Firings firings;
  const auto timeout = 100ms;
  {
    CollectiveWatchdog watchdog(timeout, firings.handler());
    watchdog.set_step(7);
    const auto start = std::chrono::steady_clock::now();
    {
      const CollectiveWatchdog::Watch watch(&watchdog, "allreduce_sum", 4096);
      // The stalled collective: it ends only well after the handler has had its chance, and longer
      // still, to show that the handler does not fire again for the same stall.
      std::this_thread::sleep_for(10 * timeout);
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(firings.count(), 1u);
    // Later stalls after the first firing stay quiet: the handler is meant to end the process.
    watchdog.begin("barrier", 0);
    std::this_thread::sleep_for(3 * timeout);
    watchdog.end();
    EXPECT_GE(waited, 0.9);
  }
  ASSERT_EQ(firings.count(), 1u);
  EXPECT_EQ(firings.names[0], "allreduce_sum");
  EXPECT_EQ(firings.seen[0].bytes, 4096u);
  EXPECT_EQ(firings.seen[0].step, 7);
  EXPECT_GE(firings.seen[0].seconds, 0.1);
  // Fired near its deadline, not at the end of the wait (a generous bound for a loaded machine).
  EXPECT_LT(firings.seen[0].seconds, 0.8);
}

TEST(CollectiveWatchdog, CollectivesThatFinishInTimeNeverFire) {
  Firings firings;
  {
    CollectiveWatchdog watchdog(200ms, firings.handler());
    // Many short collectives back to back over several timeouts: only the time inside one counts.
    const auto until = std::chrono::steady_clock::now() + 1s;
    std::int64_t step = 0;
    while (std::chrono::steady_clock::now() < until) {
      watchdog.set_step(++step);
      const CollectiveWatchdog::Watch watch(&watchdog, "broadcast", 8);
      std::this_thread::sleep_for(20ms);
    }
    // Idle time between collectives does not count either.
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(firings.count(), 0u);
}

// The rank that was stopped (SIGSTOP) and continued must not report the others for its own absence:
// while stopped its collective's deadline passes, but that time is not counted.
TEST(CollectiveWatchdog, TimeThisProcessSpentStoppedDoesNotCount) {
  Firings firings;
  {
    CollectiveWatchdog watchdog(500ms, firings.handler());
    const auto start = std::chrono::steady_clock::now();
    watchdog.begin("allreduce_max", 8);
    const pid_t self = getpid();
    const pid_t waker = fork();
    ASSERT_GE(waker, 0);
    if (waker == 0) {
      usleep(2'500'000);
      kill(self, SIGCONT);
      _exit(0);
    }
    kill(self, SIGSTOP);  // every thread stops here until the waker continues the process
    std::this_thread::sleep_for(150ms);
    watchdog.end();
    int status = 0;
    waitpid(waker, &status, 0);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_GE(waited, 2.0) << "the process was not stopped; the test proves nothing";
  }
  EXPECT_EQ(firings.count(), 0u);
}

TEST(CollectiveWatchdog, NoWatchdogMeansTheWatchIsANoOp) {
  const CollectiveWatchdog::Watch watch(nullptr, "barrier", 0);
  SUCCEED();
}

TEST(CollectiveWatchdog, RejectsATimeoutThatIsNotPositiveAndFinite) {
  for (const double seconds : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(CollectiveWatchdog(std::chrono::duration<double>(seconds), [](const StalledCollective&) {}),
                 Error)
        << seconds;
  }
  // A huge finite timeout is clamped rather than overflowing the clock's ticks.
  const CollectiveWatchdog watchdog(std::chrono::duration<double>(1e300), [](const StalledCollective&) {});
  EXPECT_GT(watchdog.timeout().count(), 1e9);
}

TEST(CollectiveWatchdog, StopsPromptlyWhenDestroyed) {
  const auto start = std::chrono::steady_clock::now();
  { const CollectiveWatchdog watchdog(600s, [](const StalledCollective&) {}); }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.5);
}

}  // namespace
}  // namespace normscale
