// The scheduler's signal watch (study/signal_watch.hpp): stop signals wait for wait(), whichever thread the kernel
// hands them to.
#include "normscale/study/signal_watch.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace normscale {
namespace {

// Each case runs in a child process, which a signal taken by its default action ends (the failure seen from here).
template <class Body>
void expect_child_exits_zero(Body body) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(body());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child was ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A thread that sleeps until `stop` says so, running (and sleeping) by the time this returns.
template <class Stop>
std::thread thread_started_before(Stop stop) {
  std::atomic<bool> started{false};
  std::thread thread([&started, stop] {
    started = true;
    while (!stop()) usleep(1000);
  });
  while (!started.load()) usleep(1000);
  usleep(10000);
  return thread;
}

// A thread started before the watch (as OpenBLAS starts its pool when the library loads) does not block the stop
// signals, so the kernel hands it a SIGTERM sent to the process: the scheduler died of it, its trials left running
// in the database, in 6 of 40 runs of StudyRuns.SigtermStopsTheTrialsAndLeavesThemPending on a loaded machine.
TEST(SignalWatch, AStopSentToTheProcessReachesWaitWhileAThreadStartedEarlierRuns) {
  expect_child_exits_zero([] {
    std::atomic<bool> done{false};
    std::thread earlier = thread_started_before([&done] { return done.load(); });
    int code = 1;
    {
      SignalWatch watch;
      kill(getpid(), SIGTERM);
      if (watch.wait(10.0) == SIGTERM && watch.stop_signal() == SIGTERM) code = 0;
    }
    done = true;
    earlier.join();
    return code;
  });
}

TEST(SignalWatch, NestedWatchesEachTakeTheirStopsAndLeaveTheDefaultActionsBehind) {
  expect_child_exits_zero([] {
    std::atomic<bool> done{false};
    std::thread earlier = thread_started_before([&done] { return done.load(); });
    int code = 0;
    {
      SignalWatch outer;
      {
        SignalWatch inner({SIGUSR2});
        kill(getpid(), SIGUSR2);
        if (inner.wait(10.0) != SIGUSR2) code |= 1;
      }
      kill(getpid(), SIGINT);  // the outer watch forwards again once the inner one is gone
      if (outer.wait(10.0) != SIGINT) code |= 2;
    }
    done = true;
    earlier.join();
    struct sigaction action {};
    sigaction(SIGTERM, nullptr, &action);
    if (action.sa_handler != SIG_DFL) code |= 4;
    sigset_t blocked;
    sigprocmask(SIG_SETMASK, nullptr, &blocked);
    if (sigismember(&blocked, SIGTERM) == 1) code |= 8;
    return code;
  });
}

}  // namespace
}  // namespace normscale
