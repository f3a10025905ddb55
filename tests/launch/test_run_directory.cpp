// A run directory belongs to one training at a time and a finished run stays finished: `train --resume`
// on it exits 0, reports its result and changes no file; a run that died before its outputs gets them;
// a second trainer on a live directory is refused with the holder's host and pid.
#include "normscale/study/child_process.hpp"
#include "support/read_file.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSmallEvaluatedRun =
    testing::kTinyBinaryTrain + "--set steps=40 --set checkpoint_every=10 --set eval_every=10 ";

using testing::read_file;

// Every file of the directory (recursively) with its bytes and modification time.
std::map<std::string, std::pair<std::string, fs::file_time_type>> snapshot(const fs::path& dir) {
  std::map<std::string, std::pair<std::string, fs::file_time_type>> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename() == "run.lock") continue;
    files[fs::relative(entry.path(), dir).string()] = {read_file(entry.path()), entry.last_write_time()};
  }
  return files;
}

// The line of the output that starts with "normscale: done after".
std::string summary_line(const std::string& output) {
  const auto start = output.find("normscale: done after");
  return start == std::string::npos ? std::string() : output.substr(start, output.find('\n', start) - start);
}

class RunDirectory : public testing::TempDirTest {
 protected:
  RunDirectory() : TempDirTest("normscale_run_directory_") {}
};

TEST_F(RunDirectory, ResumingAFinishedRunChangesNothingAndReportsItsResult) {
  const fs::path out = dir_ / "run";
  const auto first = testing::run_normscale(kSmallEvaluatedRun + "--out " + out.string());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_TRUE(fs::exists(out / "finished.json"));
  ASSERT_THAT(summary_line(first.output), HasSubstr("done after 40 steps"));
  const auto before = snapshot(out);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a rewrite would show in the times

  for (int again = 0; again < 2; ++again) {
    const auto resumed = testing::run_normscale(kSmallEvaluatedRun + "--resume --out " + out.string());
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_THAT(resumed.output, HasSubstr("has already finished; nothing to train"));
    EXPECT_EQ(summary_line(resumed.output), summary_line(first.output));
    EXPECT_THAT(resumed.output, Not(HasSubstr("type_error")));
    const auto after = snapshot(out);
    ASSERT_EQ(after.size(), before.size());
    for (const auto& [name, file] : before) {
      ASSERT_TRUE(after.contains(name)) << name;
      EXPECT_EQ(after.at(name).first, file.first) << name << " changed";
      EXPECT_EQ(after.at(name).second, file.second) << name << " was rewritten";
    }
  }
}

TEST_F(RunDirectory, RunThatDiedBeforeItsOutputsGetsThemOnResume) {
  const fs::path out = dir_ / "run";
  ASSERT_EQ(testing::run_normscale(kSmallEvaluatedRun + "--out " + out.string()).exit_code, 0);
  const std::string weights = read_file(out / "layer1_weight.npy");
  const std::string metrics = read_file(out / "metrics.jsonl");
  ASSERT_FALSE(weights.empty());
  // As if killed after the final checkpoint, before the exports and the finished marker.
  fs::remove(out / "layer1_weight.npy");
  fs::remove(out / "finished.json");
  const auto resumed = testing::run_normscale(kSmallEvaluatedRun + "--resume --out " + out.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("has already finished"));
  EXPECT_EQ(read_file(out / "layer1_weight.npy"), weights);
  EXPECT_EQ(read_file(out / "metrics.jsonl"), metrics);
  EXPECT_TRUE(fs::exists(out / "finished.json"));
}

// A resume that changes a setting of the trajectory is refused naming each one with both values (it named two
// config hashes), and changes nothing; a setting outside the trajectory (steps) may change.
TEST_F(RunDirectory, AResumeWithOtherTrajectorySettingsNamesThem) {
  const fs::path out = dir_ / "run";
  ASSERT_EQ(testing::run_normscale(testing::kTinyBinaryTrain + "--set steps=20 --set checkpoint_every=10 --out " +
                                   out.string())
                .exit_code,
            0);
  const auto before = snapshot(out);
  const auto refused = testing::run_normscale(testing::kTinyBinaryTrain +
                                              "--set steps=40 --set checkpoint_every=10 --set optim.batch=10 "
                                              "--set virtual_shards=4 --resume --out " +
                                              out.string());
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("optim.batch = 20 in the run, 10 now"));
  EXPECT_THAT(refused.output, HasSubstr("virtual_shards = 8 in the run, 4 now"));
  EXPECT_THAT(refused.output, Not(HasSubstr("steps = ")));
  const auto after = snapshot(out);
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [name, file] : before) EXPECT_EQ(after.at(name).first, file.first) << name << " changed";
  const auto resumed = testing::run_normscale(
      testing::kTinyBinaryTrain + "--set steps=40 --set checkpoint_every=10 --resume --out " + out.string());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
}

TEST_F(RunDirectory, SecondTrainerOnALiveDirectoryIsRefusedNamingTheHolder) {
  const fs::path out = dir_ / "run";
  ChildSpec first;
  // Long enough to be caught running; stopped below.
  first.argv = {"sh", "-c",
                fmt::format("{} {}--set steps=10000000 --out {}", NORMSCALE_BINARY, kSmallEvaluatedRun,
                            out.string())};
  first.output = dir_ / "first.txt";
  const pid_t shell = spawn_child(first);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_file(out / "run.lock").find("pid") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string holder = read_file(out / "run.lock");
  const auto second = testing::run_normscale(kSmallEvaluatedRun + "--out " + out.string());
  kill(-shell, SIGKILL);
  wait_child(shell);
  ASSERT_THAT(holder, HasSubstr("\"pid\"")) << read_file(first.output);
  char host[HOST_NAME_MAX + 1] = {};
  gethostname(host, sizeof host);
  EXPECT_EQ(second.exit_code, 2) << second.output;
  const auto pid = nlohmann::json::parse(holder).at("pid").get<long>();
  EXPECT_THAT(second.output, HasSubstr(fmt::format("is in use by another training (host {}, pid {}", host, pid)));
  EXPECT_THAT(second.output, HasSubstr(out.string()));
}

}  // namespace
}  // namespace normscale
