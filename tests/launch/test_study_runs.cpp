// `normscale study run` with the local backend, the built binary under mpirun: a study runs to done and
// is not rerun, a failing trial is recorded while the others finish, a scheduler killed with SIGKILL is
// resumed without repeating or duplicating anything, SIGTERM leaves trials pending, and hostile values
// from the study file never reach a shell.
#include "normscale/core/host_name.hpp"
#include "normscale/study/child_process.hpp"
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_process.hpp"
#include "normscale/study/trial_store.hpp"
#include "support/blobs.hpp"
#include "support/read_file.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/wait_for_store.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::wait_for_store;

using testing::write_blobs;

// Between the validation losses the two learning rates end with after 40 steps (0.001: 0.75, 0.1: 0.027).
constexpr const char* kRegressionTarget = "0.1";

std::string base_table(const fs::path& data, std::int64_t steps) {
  return "steps = " + std::to_string(steps) + "\ntarget_validation_error = 45\n[base]\n\"data.source\" = \"npy\"\n" +
         "\"data.path\" = " + "'" + data.string() + "'\n" +
         "\"data.validation\" = 100\n\"data.preprocess\" = \"none\"\n\"model.hidden\" = [8]\n"
         "\"objective.regime\" = \"sgd\"\n\"optim.batch\" = 20\nvirtual_shards = 8\neval_every = 5\n"
         "checkpoint_every = 10\ngallery = 0\n";
}

using testing::read_file;

std::size_t evaluation_lines(const fs::path& metrics) {
  std::ifstream file(metrics);
  std::size_t count = 0;
  for (std::string line; std::getline(file, line);) {
    if (line.find("\"step\"") != std::string::npos && line.find("\"event\"") == std::string::npos) ++count;
  }
  return count;
}

testing::CommandResult study(const std::string& arguments) {
  return testing::run_normscale("study " + arguments);
}

class StudyRuns : public testing::TempDirTest {
 protected:
  StudyRuns() : TempDirTest("normscale_study_runs_") {}

  void SetUp() override {
    TempDirTest::SetUp();
    data_ = dir_ / "data";
    write_blobs(data_);
  }

  fs::path write_study(const std::string& name, const std::string& text) {
    const fs::path file = dir_ / (name + ".toml");
    std::ofstream(file) << text;
    return file;
  }

  // `study run --dry-run` of `text` written as `name`.toml.
  testing::CommandResult dry_run(const std::string& name, const std::string& text) {
    return study("run --dry-run " + shell_quote(write_study(name, text).string()));
  }

  static std::map<std::string, double> results_of(const TrialStore& store, const std::string& id) {
    std::map<std::string, double> figures;
    for (const auto& [key, value] : store.results(id)) figures[key] = value;
    return figures;
  }

  fs::path data_;
};

TEST_F(StudyRuns, SmallStudyRunsToDoneAndIsNotRunAgain) {
  const fs::path file = write_study("small", "name = \"small\"\n" + base_table(data_, 40) +
                                                 "[grid]\n\"optim.lr\" = [0.05, 0.1]\n");
  const auto dry = study("run --dry-run " + shell_quote(file.string()));
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("2 trial(s)"));
  EXPECT_FALSE(fs::exists(dir_ / "small.db")) << "--dry-run writes nothing";

  const auto run = study("run --cores 2 " + shell_quote(file.string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("2/2 done"));
  const TrialStore store(dir_ / "small.db");
  const std::vector<TrialRecord> trials = store.trials();
  ASSERT_EQ(trials.size(), 2U);
  std::map<std::string, fs::file_time_type> written;
  for (const TrialRecord& trial : trials) {
    EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
    EXPECT_EQ(trial.exit_code, 0);
    const fs::path dir = dir_ / "small.runs" / trial.id;
    ASSERT_TRUE(fs::exists(dir / "log.txt"));
    EXPECT_THAT(read_file(dir / "log.txt"), HasSubstr("normscale: done after 40 steps"));
    EXPECT_EQ(store.metrics(trial.id).size(), evaluation_lines(dir / "metrics.jsonl"));
    EXPECT_EQ(store.metrics(trial.id).size(), 9U);  // steps 0, 5, ..., 40
    const auto figures = results_of(store, trial.id);
    for (const char* key : {"train_error", "validation_error", "test_error", "weight_norm", "wall_seconds", "steps",
                            "steps_to_target", "seconds_to_target"}) {
      EXPECT_TRUE(figures.contains(key)) << key;
    }
    EXPECT_EQ(figures.at("steps"), 40.0);
    EXPECT_LE(figures.at("steps_to_target"), 40.0);
    written[trial.id] = fs::last_write_time(dir / "metrics.jsonl");
  }

  const auto status = study("status " + shell_quote(file.string()));
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("2 trial(s): 2 done, 0 running, 0 failed, 0 pending"));
  EXPECT_THAT(status.output, HasSubstr("best grid point per (regime, batch)"));
  EXPECT_THAT(status.output, HasSubstr(trials[0].id));

  // Running it again finds nothing to do: no trial is started, no row added.
  const auto again = study("run " + shell_quote(file.string()));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  for (const TrialRecord& trial : trials) {
    EXPECT_EQ(fs::last_write_time(dir_ / "small.runs" / trial.id / "metrics.jsonl"), written[trial.id]);
    EXPECT_EQ(store.metrics(trial.id).size(), 9U);
  }
}

// A changed [base] gives every trial a new id: the rerun says that the earlier trials no longer belong to the file
// (it reran everything without a word), and the report leaves them out, saying so.
TEST_F(StudyRuns, TrialsOfAnEarlierVersionOfTheFileAreSaidToBeLeftAsTheyAre) {
  const std::string grid = "[grid]\n\"optim.lr\" = [0.05, 0.1]\n";
  const fs::path file = write_study("changed", "name = \"changed\"\n" + base_table(data_, 20) + grid);
  const auto first = study("run --cores 2 " + shell_quote(file.string()));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, Not(HasSubstr("not in the current study file")));
  std::string text = "name = \"changed\"\n" + base_table(data_, 20) + grid;
  text.replace(text.find("\"model.hidden\" = [8]"), 20, "\"model.hidden\" = [6]");
  std::ofstream(file) << text;
  const auto second = study("run --cores 2 " + shell_quote(file.string()));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("2 trial(s) of study changed in the database are not in the current study file"));
  EXPECT_EQ(TrialStore(dir_ / "changed.db").trials().size(), 4U);  // kept
  const auto report = testing::run_normscale("report --no-plots " + shell_quote(file.string()));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_THAT(read_file(dir_ / "changed.report" / "index.html"),
              HasSubstr("2 trials of study changed in " + (dir_ / "changed.db").string() +
                        " are not in the current study file; left out."));
  // Another study file of the same stem shares the database: said (it reported the other study's trials as its own
  // where their settings matched, without a word).
  const fs::path other = dir_ / "changed.study";
  std::ofstream(other) << "name = \"other\"\n" + base_table(data_, 20) + "[grid]\n\"optim.lr\" = [0.2]\n";
  const auto third = study("run --cores 2 " + shell_quote(other.string()));
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_THAT(third.output, HasSubstr("the database also holds trials of study changed (another study file named "
                                      "changed.*?)"));
}

// `study status` says who runs the study and how far its running trials got; --watch repeats it; a
// scheduler on another host that holds the study keeps `study run` off, naming it.
TEST_F(StudyRuns, StatusShowsTheSchedulerAndTheRunningTrialsAndAnotherHostsSchedulerKeepsRunOff) {
  const fs::path file = write_study("held", "name = \"held\"\n" + base_table(data_, 40) +
                                                "[grid]\n\"optim.lr\" = [0.05, 0.1]\n");
  const std::vector<Trial> trials = expand(read_study_file(file));
  {
    TrialStore store(dir_ / "held.db");
    store.upsert_trials(trials);
    store.set_state(trials[0].id, TrialState::kDone, TrialOutcome{0, "", 10.0});
    store.set_state(trials[1].id, TrialState::kRunning);
    ASSERT_FALSE(store.claim_scheduler("login-2", 77, 300.0).has_value());
  }
  const fs::path running = dir_ / "held.runs" / trials[1].id;
  fs::create_directories(running);
  std::ofstream(running / "metrics.jsonl") << "{\"step\":0,\"epoch\":0.0,\"validation_error\":50.0}\n"
                                           << "{\"step\":25,\"epoch\":1.5,\"validation_error\":12.5}\n";

  const auto status = study("status --watch --interval 0.1 --count 2 " + shell_quote(file.string()));
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("2 trial(s): 1 done, 1 running, 0 failed, 0 pending, ETA 10 s"));
  EXPECT_THAT(status.output, HasSubstr("scheduler: host login-2, pid 77, since "));
  EXPECT_THAT(status.output, HasSubstr("running " + trials[1].id + "  step 25  epoch 1.50  validation error 12.50%  "
                                       "last progress "));
  std::size_t shown = 0;
  for (auto at = status.output.find("study held"); at != std::string::npos; at = status.output.find("study held", at + 1)) {
    ++shown;
  }
  EXPECT_EQ(shown, 2U) << status.output;

  const auto refused = study("run " + shell_quote(file.string()));
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("another `normscale study run` is running this study (host login-2, pid 77"));
  EXPECT_EQ(TrialStore(dir_ / "held.db").trial(trials[1].id)->state, TrialState::kRunning) << "nothing was touched";
}

// A scheduler killed with its trials (or lost with its node) leaves them "running" until the next `study run`:
// status looks the scheduler and the trials' processes up on this host and says they are gone (it showed them
// running, "last seen" growing, forever).
TEST_F(StudyRuns, StatusSaysWhenTheSchedulerAndARunningTrialsProcessAreGone) {
  const fs::path file =
      write_study("orphaned", "name = \"orphaned\"\n" + base_table(data_, 40) + "[grid]\n\"optim.lr\" = [0.05, 0.1]\n");
  const std::vector<Trial> trials = expand(read_study_file(file));
  // A process that has ended: a child, identified while it lived, then killed and reaped.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) pause();
  }
  const TrialProcess ended = identify_process(child);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  {
    TrialStore store(dir_ / "orphaned.db");
    store.upsert_trials(trials);
    store.set_state(trials[0].id, TrialState::kRunning);
    store.set_process(trials[0].id, ended);
    store.set_state(trials[1].id, TrialState::kRunning);
    store.set_process(trials[1].id, identify_process(getpid()));  // alive
    ASSERT_FALSE(store.claim_scheduler(host_name(), child, 300.0).has_value());
  }
  const auto status = study("status " + shell_quote(file.string()));
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr(fmt::format("scheduler: host {}, pid {}", host_name(), child)));
  EXPECT_THAT(status.output, HasSubstr(fmt::format(": gone (no process {} on this host); `normscale study run` takes "
                                                   "up its trials",
                                                   child)));
  EXPECT_THAT(status.output, HasSubstr(fmt::format("(its process {} has ended, not yet recorded: `normscale study run` "
                                                   "records it or resumes it from its checkpoint)",
                                                   child)));
  const std::size_t alive_line = status.output.find("running " + trials[1].id);
  ASSERT_NE(alive_line, std::string::npos) << status.output;
  EXPECT_EQ(status.output.substr(alive_line, status.output.find('\n', alive_line) - alive_line).find("has ended"),
            std::string::npos);
}

// Regression data: the runs record losses and no error, so the study ranks and times its trials by the
// validation loss (select_by, target_validation_loss): status, the results and the report select by it.
TEST_F(StudyRuns, ARegressionStudySelectsAndTimesByValidationLoss) {
  const fs::path data = dir_ / "regression";
  testing::write_linear_regression(data);
  const fs::path file = write_study(
      "regression", "name = \"regression\"\nsteps = 40\nselect_by = \"validation_loss\"\n"
                    "target_validation_loss = " + std::string(kRegressionTarget) + "\n[base]\n"
                    "\"data.source\" = \"npy\"\n\"data.path\" = '" + data.string() + "'\n"
                    "\"data.validation\" = 100\n\"data.preprocess\" = \"none\"\n\"model.hidden\" = [8]\n"
                    "\"objective.regime\" = \"square\"\n\"objective.task\" = \"regression\"\n\"optim.batch\" = 20\n"
                    "eval_every = 5\ngallery = 0\n[grid]\n\"optim.lr\" = [0.001, 0.1]\n");
  const auto run = study("run --cores 2 " + shell_quote(file.string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const TrialStore store(dir_ / "regression.db");
  std::map<std::string, std::map<std::string, double>> by_lr;
  for (const Trial& trial : expand(read_study_file(file))) {
    by_lr[trial.grid_point.at(0).value] = results_of(store, trial.id);
  }
  ASSERT_EQ(by_lr.size(), 2U);
  const auto& slow = by_lr.at("0.001");
  const auto& fast = by_lr.at("0.1");
  for (const auto* figures : {&slow, &fast}) {
    EXPECT_TRUE(figures->contains("validation_loss") && figures->contains("train_loss"));
    EXPECT_FALSE(figures->contains("validation_error")) << "a regression run has no error";
  }
  const double target = std::stod(kRegressionTarget);
  EXPECT_LT(fast.at("validation_loss"), target);
  EXPECT_GT(slow.at("validation_loss"), target);
  ASSERT_TRUE(fast.contains("steps_to_target"));
  EXPECT_LE(fast.at("steps_to_target"), 40.0);
  EXPECT_FALSE(slow.contains("steps_to_target"));

  const auto status = study("status " + shell_quote(file.string()));
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("best grid point per (regime, batch) by validation loss"));
  EXPECT_THAT(status.output, HasSubstr(R"({"optim.lr":0.1} validation loss )"));
  EXPECT_THAT(status.output,
              HasSubstr(fmt::format("fastest to validation loss {}: {{\"optim.lr\":0.1}} in {:.0f} steps",
                                    kRegressionTarget, fast.at("steps_to_target"))));

  const auto report = testing::run_normscale("report --no-plots " + shell_quote(file.string()));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const std::string table = read_file(dir_ / "regression.report" / "table.csv");
  EXPECT_THAT(table, HasSubstr("validation_loss_mean"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("validation_error")));
  EXPECT_THAT(table, HasSubstr("\nbase,20,1,optim.lr=0.1,0.1,")) << table;
  EXPECT_THAT(read_file(dir_ / "regression.report" / "table.md"), HasSubstr("by the best mean validation loss"));

  // A lower target set after the run: status and the report time the trials to it from their metrics.
  std::string fast_id;
  for (const Trial& trial : expand(read_study_file(file))) {
    if (trial.grid_point.at(0).value == "0.1") fast_id = trial.id;
  }
  constexpr double kLowerTarget = 0.022;  // the fast trial: 0.025 at step 25, 0.019 at step 35
  std::optional<std::int64_t> lower_steps;  // from the trial's metrics.jsonl, here
  std::ifstream metrics(dir_ / "regression.runs" / fast_id / "metrics.jsonl");
  for (std::string line; !lower_steps && std::getline(metrics, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record.contains("validation_loss") && record["validation_loss"].get<double>() <= kLowerTarget) {
      lower_steps = record["step"].get<std::int64_t>();
    }
  }
  ASSERT_TRUE(lower_steps.has_value());
  ASSERT_GT(*lower_steps, fast.at("steps_to_target")) << "the lower target is reached later";
  std::string lower = read_file(file);
  const std::string target_line = "target_validation_loss = " + std::string(kRegressionTarget);
  lower.replace(lower.find(target_line), target_line.size(), fmt::format("target_validation_loss = {}", kLowerTarget));
  std::ofstream(file) << lower;
  const auto lower_status = study("status " + shell_quote(file.string()));
  EXPECT_THAT(lower_status.output,
              HasSubstr(fmt::format("fastest to validation loss {}: {{\"optim.lr\":0.1}} in {} steps", kLowerTarget,
                                    *lower_steps)));
  ASSERT_EQ(testing::run_normscale("report --no-plots " + shell_quote(file.string())).exit_code, 0);
  EXPECT_THAT(read_file(dir_ / "regression.report" / "all_trials.csv"), HasSubstr("target_validation_loss"));
  const std::string lower_table = read_file(dir_ / "regression.report" / "table.csv");
  EXPECT_THAT(lower_table, HasSubstr(fmt::format(",{},0,1,", *lower_steps))) << "steps_to_target mean, std, n";

  // The same study left selecting by error (the default) has nothing to select by: the report says what to set.
  std::string by_error = lower;
  for (const std::string& line : {std::string("select_by = \"validation_loss\"\n"),
                                 fmt::format("target_validation_loss = {}\n", kLowerTarget)}) {
    by_error.erase(by_error.find(line), line.size());
  }
  std::ofstream(file) << by_error;
  const std::string note = "No done trial recorded a validation error (they record the validation loss): nothing is "
                           "selected; set select_by = \"validation_loss\"";
  const auto unselected = testing::run_normscale("report --no-plots " + shell_quote(file.string()));
  ASSERT_EQ(unselected.exit_code, 0) << unselected.output;
  EXPECT_THAT(unselected.output, HasSubstr(note));
  const auto unselected_status = study("status " + shell_quote(file.string()));
  ASSERT_EQ(unselected_status.exit_code, 0) << unselected_status.output;
  EXPECT_THAT(unselected_status.output, HasSubstr(note));
  EXPECT_THAT(unselected_status.output, ::testing::Not(HasSubstr("best grid point")));
}

TEST_F(StudyRuns, FailingTrialIsRecordedAndTheOthersFinish) {
  const fs::path file = write_study(
      "failing", "name = \"failing\"\n" + base_table(data_, 20) +
                     "[regimes]\ngood = {}\nmissing-data = {\"data.path\" = \"/nonexistent/normscale-data\"}\n"
                     "[grid]\n\"optim.lr\" = [0.05, 0.1]\n");
  const auto run = study("run " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  const TrialStore store(dir_ / "failing.db");
  int done = 0, failed = 0;
  for (const TrialRecord& trial : store.trials()) {
    if (trial.regime == "good") {
      EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
      ++done;
    } else {
      EXPECT_EQ(trial.state, TrialState::kFailed);
      EXPECT_EQ(trial.exit_code, 2);
      EXPECT_THAT(trial.log_tail, HasSubstr("normscale: error:"));
      EXPECT_THAT(trial.log_tail, HasSubstr("/nonexistent/normscale-data"));
      EXPECT_THAT(run.output, HasSubstr("failed: " + trial.id));
      ++failed;
    }
  }
  EXPECT_EQ(done, 2);
  EXPECT_EQ(failed, 2);
  const auto status = study("status " + shell_quote(file.string()));
  EXPECT_THAT(status.output, HasSubstr("2 done, 0 running, 2 failed"));
}

TEST_F(StudyRuns, BadStudyFileIsRefusedBeforeAnyTrialStarts) {
  const fs::path file = write_study("bad", base_table(data_, 20) + "[grid]\n\"optim.lr\" = [0.1, -1.0]\n");
  const auto run = study("run " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("normscale: error:"));
  EXPECT_THAT(run.output, HasSubstr("grid.\"optim.lr\""));
  EXPECT_FALSE(fs::exists(dir_ / "bad.runs"));

  const fs::path shards = write_study("shards", "ranks = [3]\n" + base_table(data_, 20));
  const auto refused = study("run " + shell_quote(shards.string()));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("ranks: 3 ranks do not divide virtual_shards = 8"));
}

std::size_t count_state(const std::vector<TrialRecord>& trials, TrialState state) {
  return static_cast<std::size_t>(
      std::count_if(trials.begin(), trials.end(), [&](const TrialRecord& t) { return t.state == state; }));
}

TEST_F(StudyRuns, SchedulerKilledWithSigkillResumesWithoutRepeatingFinishedTrials) {
  const fs::path file = write_study("resume", "name = \"resume\"\n" + base_table(data_, 200) +
                                                  "[grid]\n\"optim.lr\" = [0.02, 0.05, 0.1]\n");
  const fs::path db = dir_ / "resume.db";
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "1", file.string()};
  scheduler.output = dir_ / "scheduler1.txt";
  const pid_t pid = spawn_child(scheduler);
  const bool ready = wait_for_store(
      db,
      [](const std::vector<TrialRecord>& t) {
        return count_state(t, TrialState::kDone) >= 1 && count_state(t, TrialState::kRunning) == 1;
      },
      120.0);
  kill(pid, SIGKILL);
  wait_child(pid);
  ASSERT_TRUE(ready) << read_file(scheduler.output);

  std::map<std::string, std::pair<fs::file_time_type, fs::file_time_type>> finished;
  {
    const TrialStore store(db);
    for (const TrialRecord& trial : store.trials(TrialState::kDone)) {
      const fs::path dir = dir_ / "resume.runs" / trial.id;
      finished[trial.id] = {fs::last_write_time(dir / "log.txt"), fs::last_write_time(dir / "metrics.jsonl")};
    }
    EXPECT_EQ(store.trials(TrialState::kRunning).size(), 1U);  // left behind by the dead scheduler
  }

  const auto rerun = study("run --cores 1 " + shell_quote(file.string()));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output << read_file(scheduler.output);
  const TrialStore store(db);
  const std::vector<TrialRecord> trials = store.trials();
  ASSERT_EQ(trials.size(), 3U);
  for (const TrialRecord& trial : trials) {
    EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
    const fs::path dir = dir_ / "resume.runs" / trial.id;
    // Every evaluation once: a resumed run trims what came after its checkpoint, the store replaces.
    EXPECT_EQ(store.metrics(trial.id).size(), evaluation_lines(dir / "metrics.jsonl")) << trial.id;
    EXPECT_EQ(store.metrics(trial.id).size(), 41U) << trial.id;  // steps 0, 5, ..., 200
    std::set<std::int64_t> steps;
    for (const MetricRow& row : store.metrics(trial.id)) EXPECT_TRUE(steps.insert(row.step).second) << row.step;
    if (finished.contains(trial.id)) {
      EXPECT_EQ(fs::last_write_time(dir / "log.txt"), finished[trial.id].first) << "finished trial ran again";
      EXPECT_EQ(fs::last_write_time(dir / "metrics.jsonl"), finished[trial.id].second);
    }
  }
}

TEST_F(StudyRuns, SigtermStopsTheTrialsAndLeavesThemPending) {
  const fs::path file = write_study("stop", "name = \"stop\"\n" + base_table(data_, 200) +
                                                "[grid]\n\"optim.lr\" = [0.02, 0.05]\n");
  const fs::path db = dir_ / "stop.db";
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "1", file.string()};
  scheduler.output = dir_ / "scheduler.txt";
  const pid_t pid = spawn_child(scheduler);
  const bool running = wait_for_store(
      db, [](const std::vector<TrialRecord>& t) { return count_state(t, TrialState::kRunning) == 1; }, 120.0);
  kill(pid, SIGTERM);
  const int code = wait_child(pid);
  ASSERT_TRUE(running) << read_file(scheduler.output);
  const std::string output = read_file(scheduler.output);
  // Stopped before its end (a trial finishing in between would still leave the other pending).
  EXPECT_EQ(code, 128 + SIGTERM) << output;
  EXPECT_THAT(output, HasSubstr("the unfinished trials are pending"));
  const TrialStore store(db);
  EXPECT_EQ(count_state(store.trials(), TrialState::kRunning), 0U);
  EXPECT_GE(count_state(store.trials(), TrialState::kPending), 1U);
}

TEST_F(StudyRuns, HostileValuesNeverReachAShell) {
  // The study lives in a folder whose name is itself hostile.
  const fs::path marker = dir_ / "pwned";
  const std::string touch = "touch " + marker.string();
  const fs::path folder = dir_ / ("a b'$(" + touch + ")`" + touch + "`;" + touch);
  fs::create_directories(folder);
  const std::string hostile = "x'\\\"; " + touch + "; $(" + touch + ") `" + touch + "`\\n'";
  const std::string study_text =
      "name = \"" + hostile + "\"\n" + base_table(data_, 20) +
      "out = \"" + hostile + "\"\n"  // the scheduler's --out wins
      "[regimes]\n\"good" + hostile + "\" = {}\n\"bad" + hostile + "\" = {\"data.path\" = \"" + hostile + "\"}\n";
  const fs::path file = folder / "study.toml";
  std::ofstream(file) << study_text;
  const auto run = study("run " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_FALSE(fs::exists(marker)) << "a value from the study file ran in a shell";
  const TrialStore store(folder / "study.db");
  const std::vector<TrialRecord> trials = store.trials();
  ASSERT_EQ(trials.size(), 2U);
  for (const TrialRecord& trial : trials) {
    EXPECT_THAT(trial.study, HasSubstr("$(" + touch + ")"));
    if (trial.regime.starts_with("good")) {
      EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
    } else {
      EXPECT_EQ(trial.state, TrialState::kFailed);
      EXPECT_EQ(trial.exit_code, 2);
      EXPECT_THAT(trial.log_tail, HasSubstr("$(" + touch + ")"));  // the path reached the trainer verbatim
    }
  }
  const auto dry = study("run --dry-run " + shell_quote(file.string()));
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_FALSE(fs::exists(marker));
}

// A regression trial records losses and no error: a study timing its trials to a validation-error target is refused
// before any trial runs (status and report found it out after every trial had run), naming the way out.
TEST_F(StudyRuns, ARegressionStudyWithAnErrorTargetIsRefusedBeforeAnyTrialRuns) {
  const fs::path file = dir_ / "regression_error.toml";
  std::ofstream(file) << "steps = 5\ntarget_validation_error = 10\n[base]\n\"data.source\" = \"sinusoid\"\n"
                      << "\"objective.regime\" = \"square\"\n\"objective.task\" = \"regression\"\n";
  const auto run = study("run " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("target_validation_error: trial regime=base"));
  EXPECT_THAT(run.output, HasSubstr("select_by = \"validation_loss\" and target_validation_loss"));
  EXPECT_FALSE(fs::exists(dir_ / "regression_error.db"));
  // A generated source that makes regression targets trains a regression whatever objective.task says.
  const auto source_run = dry_run("regression_source",
                                  "steps = 5\ntarget_validation_error = 10\n[base]\n\"data.source\" = \"sinusoid\"\n"
                                  "\"objective.regime\" = \"square\"\n");
  EXPECT_EQ(source_run.exit_code, 2) << source_run.output;
  EXPECT_THAT(source_run.output, HasSubstr("data.source = \"sinusoid\" makes regression targets"));
  // Regression targets read from files are seen at the first trial's end: the study stops there, saying why.
  const fs::path data = dir_ / "regression_files";
  testing::write_linear_regression(data);
  const fs::path by_files =
      write_study("regression_files",
                  "steps = 5\ntarget_validation_error = 10\n[base]\n\"data.source\" = \"npy\"\n"
                  "\"data.path\" = '" +
                      data.string() +
                      "'\n\"data.validation\" = 100\n"
                      "\"data.preprocess\" = \"none\"\n\"model.hidden\" = [8]\n\"objective.regime\" = \"square\"\n"
                      "\"optim.batch\" = 20\ngallery = 0\n[grid]\n\"optim.lr\" = [0.001, 0.01, 0.1]\n");
  const auto files_run = study("run --cores 1 " + shell_quote(by_files.string()));
  EXPECT_EQ(files_run.exit_code, 2) << files_run.output;
  EXPECT_THAT(files_run.output, HasSubstr("ended without a validation error (its records hold losses"));
  EXPECT_LT(TrialStore(dir_ / "regression_files.db").trials(TrialState::kDone).size(), 3U)
      << "the study stopped before running every trial";
  // A classification source with an error target passes this check: two-point then fails the next, having no
  // validation split to time (the study would record no validation error at all).
  const auto classes_run =
      dry_run("classes", "steps = 5\ntarget_validation_error = 10\n[base]\n\"data.source\" = \"two-point\"\n");
  EXPECT_EQ(classes_run.exit_code, 2) << classes_run.output;
  EXPECT_THAT(classes_run.output, HasSubstr("has no validation split (data.source = \"two-point\" generates none), but "
                                            "the study is timed to a target by the validation error"));
}

// A study timed to a target or halving on data without a validation split would record no figure to time or rank
// by: refused before any trial runs, naming the split. A grid on such data runs, with a note that nothing can be
// selected; one grid point per regime and batch runs without one (theory3-degenerate-regression.toml).
TEST_F(StudyRuns, AStudyThatChoosesByValidationNeedsAValidationSplit) {
  const fs::path data = dir_ / "regression_files";
  testing::write_linear_regression(data);
  const auto files_run = dry_run("no_validation",
                                 "steps = 5\nselect_by = \"validation_loss\"\ntarget_validation_loss = 0.1\n"
                                 "[base]\n\"data.source\" = \"npy\"\n\"data.path\" = '" +
                                     data.string() + "'\n\"data.validation\" = 0\n\"objective.regime\" = \"square\"\n");
  EXPECT_EQ(files_run.exit_code, 2) << files_run.output;
  EXPECT_THAT(files_run.output, HasSubstr("has no validation split (data.validation = 0), but the study is timed to a "
                                          "target by the validation loss"));
  EXPECT_THAT(files_run.output, HasSubstr("hint: hold out validation examples of data files (data.validation = N), "
                                          "or leave out the target"));
  const auto grid_run =
      dry_run("grid", "steps = 5\n[base]\n\"data.source\" = \"separable-2d\"\n[grid]\n\"optim.lr\" = [0.01, 0.1]\n");
  EXPECT_EQ(grid_run.exit_code, 0) << grid_run.output;
  EXPECT_THAT(grid_run.output, HasSubstr("note: trial regime=base batch=128 ranks=1 seed=1 optim.lr=0.01 has no "
                                         "validation split (data.source = \"separable-2d\" generates none), so its "
                                         "grid points cannot be selected by the validation error"));
  const auto single_run =
      dry_run("single", "steps = 5\nseeds = [1, 2]\nbatch = [1, 2]\n[base]\n\"data.source\" = \"two-point\"\n");
  EXPECT_EQ(single_run.exit_code, 0) << single_run.output;
  EXPECT_THAT(single_run.output, Not(HasSubstr("note:")));
}

}  // namespace
}  // namespace normscale
