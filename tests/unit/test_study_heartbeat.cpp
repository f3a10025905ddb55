// The scheduler's heartbeats: a trial's progress is its run directory growing (log, metrics, a newer
// checkpoint), recorded in the database as the trial's heartbeat; the scheduler's claim is taken and
// given up with it, and a second scheduler's error names the first.
#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/study_heartbeat.hpp"
#include "support/temp_dir.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class StudyHeartbeatTest : public testing::TempDirTest {
 protected:
  StudyHeartbeatTest() : TempDirTest("normscale_heartbeat_") {}
};

void append(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::app) << text; }

TEST_F(StudyHeartbeatTest, ProgressIsTheRunDirectoryGrowing) {
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  EXPECT_EQ(progress_size(run), 0U);
  append(run / "log.txt", "12345");
  append(run / "metrics.jsonl", "{}\n");
  EXPECT_EQ(progress_size(run), 8U);
  for (const char* step : {"step_0000000100", "step_0000000040"}) {
    fs::create_directories(run / "checkpoints" / step);
    append(run / "checkpoints" / step / "manifest.bin", "");  // complete (a manifest is written last)
  }
  fs::create_directories(run / "checkpoints" / "step_0000000200");  // still being written: not counted
  EXPECT_EQ(progress_size(run), 108U);  // the newest checkpoint's step
  append(run / "other.txt", "not progress");
  EXPECT_EQ(progress_size(run), 108U);
}

TEST_F(StudyHeartbeatTest, ATrialBeatsWhenItGrowsAndItsIdleTimeRestarts) {
  const std::vector<Trial> trials = expand(parse_study("name = \"h\"\n[grid]\n\"optim.lr\" = [0.1]\n", "h.toml"));
  TrialStore store(dir_ / "h.db");
  store.upsert_trials(trials);
  const std::string& id = trials[0].id;
  store.set_state(id, TrialState::kRunning);
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  append(run / "log.txt", "started\n");

  StudyHeartbeat heartbeat(store, dir_ / "h.toml", 300.0);
  EXPECT_EQ(store.scheduler()->host, host_name());
  EXPECT_EQ(store.scheduler()->pid, getpid());
  EXPECT_LT(heartbeat.progress(id, run), 1.0);  // the first look starts the clock
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double idle = heartbeat.progress(id, run);
  EXPECT_GE(idle, 0.25);
  append(run / "metrics.jsonl", "{\"step\":1}\n");
  EXPECT_LT(heartbeat.progress(id, run), idle);
  EXPECT_THAT(store.trial(id)->heartbeat, HasSubstr("Z"));
  EXPECT_LT(*store.trial(id)->seconds_since_heartbeat, 60.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GE(heartbeat.progress(id, run), 0.25);
  heartbeat.restart(id);
  EXPECT_LT(heartbeat.progress(id, run), 0.25);
}

TEST_F(StudyHeartbeatTest, ASecondSchedulerIsRefusedNamingTheFirstUntilItGivesTheStudyUp) {
  TrialStore store(dir_ / "s.db");
  TrialStore other(dir_ / "s.db");
  ASSERT_FALSE(other.claim_scheduler("login-2", 4242, 300.0).has_value());
  EXPECT_THAT([&] { StudyHeartbeat refused(store, dir_ / "s.toml", 300.0); },
              ::testing::ThrowsMessage<Error>(HasSubstr("another `normscale study run` is running this study (host "
                                                        "login-2, pid 4242")));
  other.release_scheduler("login-2", 4242);
  {
    StudyHeartbeat held(store, dir_ / "s.toml", 300.0);
    EXPECT_EQ(other.scheduler()->pid, getpid());
    held.beat();
  }
  EXPECT_FALSE(other.scheduler().has_value()) << "given up on destruction";
}

}  // namespace
}  // namespace normscale
