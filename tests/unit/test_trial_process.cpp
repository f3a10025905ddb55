// A trial's process identity: /proc/<pid>/stat parsed past a hostile command name, a reused pid (other
// start time), another host or boot, and a zombie are never taken for the trial's live process.
#include "normscale/study/trial_process.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace normscale {
namespace {

// Fields 3..22 of a stat line: state, then 18 numbers, then the start time 424242.
std::string stat_line(const std::string& comm, char state) {
  return "1234 (" + comm + ") " + state + " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 99 100\n";
}

TEST(TrialProcess, StartTimeIsField22CountedFromTheLastParenthesis) {
  EXPECT_EQ(parse_process_start(stat_line("normscale", 'S')), 424242);
  EXPECT_EQ(parse_process_start(stat_line("a) R 9 9 (b", 'R')), 424242);  // a command name may hold ") "
  EXPECT_EQ(parse_process_start(stat_line("x y", 'Z')), std::nullopt);     // a zombie has ended
  EXPECT_EQ(parse_process_start("1234 (short) S 1 2\n"), std::nullopt);
  EXPECT_EQ(parse_process_start("garbage"), std::nullopt);
}

TEST(TrialProcess, OnlyThatVeryProcessIsAlive) {
  const TrialProcess self = identify_process(getpid());
  EXPECT_GT(self.start_ticks, 0);
  EXPECT_FALSE(self.host.empty());
  EXPECT_TRUE(on_this_machine(self));
  EXPECT_TRUE(process_alive(self));

  TrialProcess reused = self;  // the same pid, started at another time: someone else
  reused.start_ticks += 1;
  EXPECT_FALSE(process_alive(reused));
  TrialProcess elsewhere = self;
  elsewhere.host += "-other";
  EXPECT_FALSE(on_this_machine(elsewhere));
  EXPECT_FALSE(process_alive(elsewhere));
  TrialProcess rebooted = self;
  rebooted.boot_id = "another-boot";
  EXPECT_FALSE(process_alive(rebooted));

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  const TrialProcess ended = identify_process(child);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_FALSE(process_alive(ended));
  EXPECT_FALSE(process_alive(TrialProcess{}));
}

}  // namespace
}  // namespace normscale
