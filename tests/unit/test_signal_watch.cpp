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

// Runs `body` in a child process, which a signal taken by its default action ends (the failure seen from here), with
// a thread that was started, and sleeps, before anything in `body` runs: it does not block what a watch blocks, as
// OpenBLAS's pool, started when the library loads, does not. The child exits with what `body` returns.
template <class Body>
void expect_zero_from_a_child_with_an_earlier_thread(Body body) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::atomic<bool> started{false}, done{false};
    std::thread earlier([&started, &done] {
      started = true;
      while (!done.load()) usleep(1000);
    });
    while (!started.load()) usleep(1000);
    usleep(10000);
    const int code = body();
    done = true;
    earlier.join();
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child was ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The kernel hands a SIGTERM sent to the process to the thread that does not block it: the scheduler died of it,
// its trials left running in the database, in 6 of 40 runs of StudyRuns.SigtermStopsTheTrialsAndLeavesThemPending
// on a loaded machine.
TEST(SignalWatch, AStopSentToTheProcessReachesWaitWhileAThreadStartedEarlierRuns) {
  expect_zero_from_a_child_with_an_earlier_thread([] {
    SignalWatch watch;
    kill(getpid(), SIGTERM);
    return watch.wait(10.0) == SIGTERM && watch.stop_signal() == SIGTERM ? 0 : 1;
  });
}

TEST(SignalWatch, NestedWatchesEachTakeTheirStopsAndLeaveTheDefaultActionsBehind) {
  expect_zero_from_a_child_with_an_earlier_thread([] {
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
