// Successive halving / ASHA with the local backend, the built binary under mpirun, on a fixture whose ranking
// is known: of three learning rates on two Gaussian blobs, 1e-5 barely learns, 0.1 learns and 1e6 diverges.
// The best is promoted rung by rung and ends bit-equal to an uninterrupted run of its full budget, the others
// stop early, the diverged one is never promoted; a scheduler killed in the middle continues the same halving; a
// crashed trial run again with --retry-failed reopens its rung; a study without validation errors is refused at its
// first trial's end.
#include "normscale/study/child_process.hpp"
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"
#include "support/blobs.hpp"
#include "support/read_file.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"
#include "support/wait_for_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using testing::wait_for_store;
using ::testing::HasSubstr;
using testing::read_file;

constexpr std::int64_t kBudget = 45;  // steps; rungs 5, 15, 45

std::string halving_study(const std::string& name, const fs::path& data, const std::string& mode) {
  return "name = \"" + name + "\"\nsteps = " + std::to_string(kBudget) +
         "\n[base]\n\"data.source\" = \"npy\"\n\"data.path\" = '" + data.string() +
         "'\n\"data.validation\" = 100\n\"data.preprocess\" = \"none\"\n\"model.hidden\" = [8]\n"
         "\"objective.regime\" = \"sgd\"\n\"optim.batch\" = 20\nvirtual_shards = 4\neval_every = 5\n"
         "checkpoint_every = 10\ngallery = 0\n"
         "[grid]\n\"optim.lr\" = [1e-5, 0.1, 1e6]\n"
         "[halving]\nrungs = [5, 15, 45]\nreduction = 3\nmode = \"" + mode + "\"\n";
}

double result(const TrialStore& store, const std::string& id, const std::string& key) {
  for (const auto& [name, value] : store.results(id)) {
    if (name == key) return value;
  }
  ADD_FAILURE() << "trial " << id << " has no result " << key;
  return -1.0;
}

class StudyHalving : public testing::TempDirTest {
 protected:
  StudyHalving() : TempDirTest("normscale_study_halving_") {}

  void SetUp() override {
    TempDirTest::SetUp();
    data_ = dir_ / "data";
    testing::write_blobs(data_);
  }

  // Each trial's state, rung, early stop, end and metric count: what a refused run must leave as it was.
  static std::vector<std::string> snapshot(const fs::path& db) {
    const TrialStore store(db);
    std::vector<std::string> rows;
    for (const TrialRecord& t : store.trials()) {
      rows.push_back(t.id + " " + std::string(trial_state_name(t.state)) + " rung " + std::to_string(t.rung) +
                     (t.stopped_early ? " stopped " : " ") + t.finished + " metrics " +
                     std::to_string(store.metrics(t.id).size()));
    }
    return rows;
  }

  fs::path write_study(const std::string& name, const std::string& mode) {
    const fs::path file = dir_ / (name + ".toml");
    std::ofstream(file) << halving_study(name, data_, mode);
    return file;
  }

  // The halving ended as the ranking says: trial order is the lr order 1e-5, 0.1, 1e6.
  // `interrupted`: a killed scheduler may have left a rung's run to be resumed once more.
  void expect_halving_result(const fs::path& file, const std::string& name, bool interrupted = false) {
    const std::vector<Trial> trials = expand(read_study_file(file));
    ASSERT_EQ(trials.size(), 3U);
    const TrialStore store(dir_ / (name + ".db"));
    const TrialRecord slow = *store.trial(trials[0].id);
    const TrialRecord best = *store.trial(trials[1].id);
    const TrialRecord diverged = *store.trial(trials[2].id);

    EXPECT_EQ(best.state, TrialState::kDone) << best.log_tail;
    EXPECT_EQ(best.rung, 2);
    EXPECT_FALSE(best.stopped_early);
    EXPECT_EQ(result(store, best.id, "steps"), static_cast<double>(kBudget));
    // Its wall time counts every rung's run: the earlier rungs' and the last one's.
    EXPECT_GT(best.earlier_seconds, 0.0);
    ASSERT_TRUE(best.wall_seconds.has_value());
    EXPECT_GT(*best.wall_seconds, best.earlier_seconds);
    EXPECT_EQ(result(store, best.id, "wall_seconds"), *best.wall_seconds);

    EXPECT_EQ(slow.state, TrialState::kDone) << slow.log_tail;
    EXPECT_EQ(slow.rung, 0);
    EXPECT_TRUE(slow.stopped_early);
    EXPECT_EQ(slow.earlier_seconds, 0.0);
    EXPECT_EQ(result(store, slow.id, "steps"), 5.0);  // stopped at its first rung's budget
    EXPECT_GT(result(store, slow.id, "validation_error"), result(store, best.id, "validation_error"));

    EXPECT_EQ(diverged.state, TrialState::kFailed);
    EXPECT_EQ(diverged.rung, 0) << "a diverged trial is never promoted";
    EXPECT_EQ(result(store, diverged.id, "diverged"), 1.0);

    // Each trial started once; the best resumed for each rung after the first, the others never.
    const auto log_count = [&](const TrialRecord& trial, const std::string& what) {
      const std::string log = read_file(dir_ / (name + ".runs") / trial.id / "log.txt");
      std::size_t count = 0;
      for (std::size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++count;
      return count;
    };
    // A scheduler killed between a trial's log line and its start leaves it pending: the next one starts it again.
    for (const TrialRecord* trial : {&slow, &best, &diverged}) {
      if (interrupted) {
        EXPECT_GE(log_count(*trial, "normscale study: starting trial"), 1U) << trial->id;
      } else {
        EXPECT_EQ(log_count(*trial, "normscale study: starting trial"), 1U) << trial->id;
      }
    }
    EXPECT_EQ(log_count(slow, "normscale study: resuming trial"), 0U);
    EXPECT_EQ(log_count(diverged, "normscale study: resuming trial"), 0U);
    if (interrupted) {
      EXPECT_GE(log_count(best, "normscale study: resuming trial"), 2U);
    } else {
      EXPECT_EQ(log_count(best, "normscale study: resuming trial"), 2U);
    }

    // Every evaluation of the best trial once, across its three runs.
    const fs::path best_dir = dir_ / (name + ".runs") / best.id;
    std::set<std::int64_t> steps;
    for (const MetricRow& row : store.metrics(best.id)) EXPECT_TRUE(steps.insert(row.step).second) << row.step;
    EXPECT_EQ(steps.size(), static_cast<std::size_t>(kBudget / 5 + 1));  // 0, 5, ..., 45

    // The promoted trial's end equals an uninterrupted run of its full budget, weights bit for bit.
    const fs::path straight = dir_ / (name + "-straight");
    const auto train = testing::run_normscale("train --config " + shell_quote((best_dir / "config.toml").string()) +
                                              " --set resume=false --overwrite --out " +
                                              shell_quote(straight.string()));
    ASSERT_EQ(train.exit_code, 0) << train.output;
    EXPECT_THAT(train.output, HasSubstr("done after 45 steps"));
    ASSERT_TRUE(fs::exists(best_dir / "layer1_weight.npy"));
    EXPECT_EQ(read_file(best_dir / "layer1_weight.npy"), read_file(straight / "layer1_weight.npy"));
    EXPECT_EQ(read_file(best_dir / "layer2_weight.npy"), read_file(straight / "layer2_weight.npy"));

    const auto status = testing::run_normscale("study status " + shell_quote(file.string()));
    ASSERT_EQ(status.exit_code, 0) << status.output;
    EXPECT_THAT(status.output, HasSubstr("stopped early at rung 0"));
    EXPECT_THAT(status.output, HasSubstr("{\"optim.lr\":0.1} validation error"));  // the best grid point
  }

  fs::path data_;
};

TEST_F(StudyHalving, AshaPromotesTheBestToTheFullBudgetAndStopsTheRest) {
  const fs::path file = write_study("asha", "asynchronous");
  const auto run = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;  // the diverged trial failed
  EXPECT_THAT(run.output, HasSubstr("promoted to rung 2"));
  EXPECT_THAT(run.output, HasSubstr("stopped early at rung 0"));
  expect_halving_result(file, "asha");

  // The report reads a halving study like any other: the best grid point is the promoted one.
  const auto report = testing::run_normscale("report " + shell_quote(file.string()));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const std::string table = read_file(dir_ / "asha.report" / "table.csv");
  EXPECT_THAT(table, HasSubstr("\nbase,20,1,optim.lr=0.1,0.1,")) << table;

  // Run again: nothing left to decide or run, nothing changes.
  const TrialStore store(dir_ / "asha.db");
  const std::vector<TrialRecord> before = store.trials();
  const auto again = testing::run_normscale("study run " + shell_quote(file.string()));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_THAT(again.output, ::testing::Not(HasSubstr("promoted")));
  const std::vector<TrialRecord> after = store.trials();
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i].finished, before[i].finished);
}

TEST_F(StudyHalving, SynchronousHalvingEndsTheSame) {
  const fs::path file = write_study("sync", "synchronous");
  const auto run = testing::run_normscale("study run --cores 1 " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  expect_halving_result(file, "sync");
}

TEST_F(StudyHalving, SchedulerKilledInTheMiddleContinuesTheSameHalving) {
  const fs::path file = write_study("killed", "asynchronous");
  const fs::path db = dir_ / "killed.db";
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "1", file.string()};
  scheduler.output = dir_ / "scheduler1.txt";
  const pid_t pid = spawn_child(scheduler);
  // Killed once a trial has been promoted past the first rung and not yet finished the last.
  const bool promoted = wait_for_store(
      db,
      [](const std::vector<TrialRecord>& trials) {
        return std::any_of(trials.begin(), trials.end(), [](const TrialRecord& t) {
          return t.rung >= 1 && t.state != TrialState::kDone;
        });
      },
      120.0);
  kill(pid, SIGKILL);
  wait_child(pid);
  ASSERT_TRUE(promoted) << read_file(scheduler.output);

  const auto rerun = testing::run_normscale("study run --cores 1 " + shell_quote(file.string()));
  EXPECT_EQ(rerun.exit_code, 1) << rerun.output << read_file(scheduler.output);
  expect_halving_result(file, "killed", true);
}

// Synchronous halving where the best trial crashed (SIGSEGV) in its first rung: the rung is decided without it (the
// slow one goes on, to the full budget). `study run --retry-failed` runs it again at that rung, which reopens the
// rung: it ends it best and goes on, to the full budget and an uninterrupted run's weights; the slow one is not
// taken back; the diverged one fails again.
TEST_F(StudyHalving, ACrashedTrialRunAgainWithRetryFailedReopensItsRung) {
  std::string text = halving_study("retried", data_, "synchronous");
  const auto set = [&](const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
  };
  // Rungs of about a second, so that the best trial can be caught in its first.
  set("steps = 45", "steps = 400000");
  set("eval_every = 5", "eval_every = 50000");
  set("checkpoint_every = 10", "checkpoint_every = 50000");
  set("rungs = [5, 15, 45]", "rungs = [100000, 200000, 400000]");
  set("[1e-5, 0.1, 1e6]", "[1e-8, 0.1, 1e6]");  // 1e-5 learns as well as 0.1 does within 200000 steps
  const fs::path file = dir_ / "retried.toml";
  std::ofstream(file) << text;
  const std::vector<Trial> trials = expand(read_study_file(file));
  ASSERT_EQ(trials.size(), 3U);
  const std::string slow = trials[0].id, best = trials[1].id, diverged = trials[2].id;
  const fs::path db = dir_ / "retried.db";

  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "1", file.string()};
  scheduler.output = dir_ / "scheduler.txt";
  const pid_t pid = spawn_child(scheduler);
  pid_t trainer = 0;
  wait_for_store(
      db,
      [&](const std::vector<TrialRecord>& records) {
        for (const TrialRecord& t : records) {
          if (t.id == best && t.state == TrialState::kRunning && t.rung == 0 && t.process) trainer = t.process->pid;
        }
        return trainer > 0;
      },
      120.0);
  ASSERT_GT(trainer, 0) << read_file(scheduler.output);
  kill(trainer, SIGSEGV);
  EXPECT_EQ(wait_child(pid), 1) << read_file(scheduler.output);
  {
    const TrialStore store(db);
    EXPECT_EQ(store.trial(best)->state, TrialState::kFailed) << read_file(scheduler.output);
    EXPECT_EQ(store.trial(best)->rung, 0);
    EXPECT_EQ(store.trial(slow)->state, TrialState::kDone);
    EXPECT_EQ(store.trial(slow)->rung, 2) << "rung 0 was decided without the best trial";
  }

  const auto retried = testing::run_normscale("study run --cores 1 --retry-failed " + shell_quote(file.string()));
  EXPECT_EQ(retried.exit_code, 1) << retried.output;  // the diverged trial fails again
  EXPECT_THAT(retried.output, HasSubstr("trial " + best + " promoted to rung 1"));
  EXPECT_THAT(retried.output, HasSubstr("trial " + best + " promoted to rung 2"));
  const TrialStore store(db);
  EXPECT_EQ(store.trial(best)->state, TrialState::kDone) << retried.output;
  EXPECT_EQ(store.trial(best)->rung, 2);
  EXPECT_EQ(result(store, best, "steps"), 400000.0);
  EXPECT_EQ(store.trial(slow)->state, TrialState::kDone);
  EXPECT_EQ(store.trial(slow)->rung, 2);
  EXPECT_EQ(store.trial(diverged)->state, TrialState::kFailed);
  EXPECT_EQ(store.trial(diverged)->rung, 0);

  const fs::path best_dir = dir_ / "retried.runs" / best;
  const fs::path straight = dir_ / "retried-straight";
  const auto train = testing::run_normscale("train --config " + shell_quote((best_dir / "config.toml").string()) +
                                            " --set resume=false --overwrite --out " + shell_quote(straight.string()));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_EQ(read_file(best_dir / "layer1_weight.npy"), read_file(straight / "layer1_weight.npy"));
  EXPECT_EQ(read_file(best_dir / "layer2_weight.npy"), read_file(straight / "layer2_weight.npy"));
}

// The rungs a study first ran with are recorded: another schedule would read the recorded rung indices against
// other budgets (the trial ids stay, as they come from the full budget), and no schedule would take the trials
// stopped early for finished ones, so both are refused before anything changes; the restored schedule runs on.
TEST_F(StudyHalving, AChangedRungScheduleIsRefusedUntilRestored) {
  const fs::path file = write_study("schedule", "asynchronous");
  const auto run = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;  // the diverged trial failed
  const fs::path db = dir_ / "schedule.db";
  const std::vector<std::string> before = snapshot(db);
  ASSERT_EQ(before.size(), 3U);

  std::string changed = halving_study("schedule", data_, "asynchronous");
  const std::string rungs = "rungs = [5, 15, 45]";
  ASSERT_NE(changed.find(rungs), std::string::npos);
  changed.replace(changed.find(rungs), rungs.size(), "rungs = [5, 10, 45]");
  std::ofstream(file) << changed;
  const auto refused = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr(file.string() + ": [halving] rungs = [5, 10, 45] (steps)"));
  EXPECT_THAT(refused.output, HasSubstr("database " + db.string() + " recorded rungs = [5, 15, 45] (steps)"));
  EXPECT_THAT(refused.output, HasSubstr("Restore rungs = [5, 15, 45]"));
  EXPECT_THAT(refused.output, HasSubstr("new study"));
  EXPECT_THAT(refused.output, ::testing::Not(HasSubstr("promoted")));
  EXPECT_EQ(snapshot(db), before);
  EXPECT_EQ(TrialStore(db).rung_schedule(), (RungSchedule{{5, 15, 45}, "steps"}));

  // Without [halving] the trials stopped at a rung would count as finished runs of the full budget: refused too.
  std::string plain = halving_study("schedule", data_, "asynchronous");
  plain.erase(plain.find("[halving]"));
  std::ofstream(file) << plain;
  const auto unhalved = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_NE(unhalved.exit_code, 0) << unhalved.output;
  EXPECT_THAT(unhalved.output, HasSubstr(file.string() + ": no [halving] section, but its database " + db.string() +
                                         " recorded rungs = [5, 15, 45] (steps)"));
  EXPECT_THAT(unhalved.output, HasSubstr("Restore the [halving] section"));
  const auto unhalved_report = testing::run_normscale("report --no-plots " + shell_quote(file.string()));
  EXPECT_NE(unhalved_report.exit_code, 0) << unhalved_report.output;
  EXPECT_THAT(unhalved_report.output, HasSubstr("no [halving] section"));
  EXPECT_EQ(snapshot(db), before);

  std::ofstream(file) << halving_study("schedule", data_, "asynchronous");
  const auto restored = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_EQ(restored.exit_code, 1) << restored.output;  // as before: the diverged trial is failed
  EXPECT_THAT(restored.output, HasSubstr("2 done, 1 failed, 0 to run"));
  EXPECT_THAT(restored.output, ::testing::Not(HasSubstr("recorded rungs")));
  EXPECT_EQ(snapshot(db), before);
}

// A study that ran without [halving] ran its trials at the full budget: given [halving] afterwards, the planner would
// read those runs as rung results, promote some and mark the others stopped early (it did, and relabelled finished
// trials). Refused before anything changes, by `study run` and `report`; without [halving] it runs on as before.
TEST_F(StudyHalving, HalvingAddedToAStudyThatRanWithoutItIsRefused) {
  const fs::path file = dir_ / "added.toml";
  std::string plain = halving_study("added", data_, "asynchronous");
  plain.erase(plain.find("[halving]"));
  std::ofstream(file) << plain;
  const auto run = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;  // the diverged trial failed
  const fs::path db = dir_ / "added.db";
  EXPECT_EQ(TrialStore(db).rung_schedule(), (RungSchedule{{}, "steps"}));
  const std::vector<std::string> before = snapshot(db);
  ASSERT_EQ(before.size(), 3U);

  std::ofstream(file) << halving_study("added", data_, "asynchronous");
  const auto refused = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr(file.string() + ": [halving] rungs = [5, 15, 45] (steps), but the study ran "
                                                        "without a [halving] section (3 of its 3 trials ran"));
  EXPECT_THAT(refused.output, HasSubstr("Nothing was changed"));
  const auto report = testing::run_normscale("report --no-plots " + shell_quote(file.string()));
  EXPECT_NE(report.exit_code, 0) << report.output;
  EXPECT_THAT(report.output, HasSubstr("but the study ran without a [halving] section"));
  EXPECT_EQ(snapshot(db), before);
  EXPECT_EQ(TrialStore(db).rung_schedule(), (RungSchedule{{}, "steps"}));

  // A database of before plain studies recorded their (empty) schedule: the done trials' evaluations reach the full
  // budget, which no trial at rung 0 of a halving study does.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "DELETE FROM halving_schedule", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  ASSERT_FALSE(TrialStore(db).rung_schedule().has_value());
  const auto unrecorded = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_NE(unrecorded.exit_code, 0) << unrecorded.output;
  EXPECT_THAT(unrecorded.output, HasSubstr("but the study ran without a [halving] section (2 of its 3 trials ran"));
  EXPECT_EQ(snapshot(db), before);

  std::ofstream(file) << plain;
  const auto again = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_THAT(again.output, HasSubstr("2 done, 1 failed, 0 to run"));
  EXPECT_EQ(snapshot(db), before);
}

// Budgets in epochs: 200 training examples (300 less 100 for validation) in batches of 20 are 10 steps an epoch.
// Every trial runs 1 epoch; the best at it (by its stored evaluation at step 10) alone trains to 3 epochs.
TEST_F(StudyHalving, EpochRungsRunWholeEpochsAndPromoteTheBestAtTheFirst) {
  const fs::path file = dir_ / "epochs.toml";
  std::ofstream(file) << "epochs = 3\n[base]\n\"data.source\" = \"npy\"\n\"data.path\" = '" << data_.string()
                      << "'\n\"data.validation\" = 100\n\"data.preprocess\" = \"none\"\n\"model.hidden\" = [8]\n"
                      << "\"objective.regime\" = \"sgd\"\n\"optim.batch\" = 20\nvirtual_shards = 4\ngallery = 0\n"
                      << "[grid]\n\"optim.lr\" = [0.001, 0.03, 0.3]\n"
                      << "[halving]\nrungs = [1, 3]\nmode = \"synchronous\"\n";
  const auto dry = testing::run_normscale("study run --dry-run " + shell_quote(file.string()));
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("halving (synchronous): rungs 1, 3 epochs, reduction 3"));
  const auto run = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const TrialStore store(dir_ / "epochs.db");
  std::string best;
  double best_error = 1e9;
  for (const TrialRecord& trial : store.trials()) {
    for (const MetricRow& row : store.metrics(trial.id)) {
      if (row.step != 10) continue;
      const double error = nlohmann::json::parse(row.json).at("validation_error").get<double>();
      if (error < best_error) {
        best = trial.id;
        best_error = error;
      }
    }
  }
  ASSERT_FALSE(best.empty());
  for (const TrialRecord& trial : store.trials()) {
    EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
    EXPECT_EQ(trial.rung, trial.id == best ? 1 : 0) << trial.id;
    EXPECT_EQ(trial.stopped_early, trial.id != best) << trial.id;
    EXPECT_EQ(result(store, trial.id, "steps"), trial.id == best ? 30.0 : 10.0) << trial.id;
    EXPECT_EQ(result(store, trial.id, "epochs"), trial.id == best ? 3.0 : 1.0) << trial.id;
  }
}

// A study without a validation split (a generated data set without one) has nothing to rank by: refused before any
// trial runs (the scheduler said so at the first trial's end; it stopped every trial early before that).
TEST_F(StudyHalving, WithoutAValidationErrorTheSchedulerStopsAndSaysWhy) {
  const fs::path file = dir_ / "unvalidated.toml";
  std::ofstream(file) << "steps = 20\n[base]\n\"data.source\" = \"separable-2d\"\n\"data.synthetic_examples\" = 100\n"
                      << "\"model.hidden\" = [4]\n\"objective.regime\" = \"sgd\"\n\"optim.batch\" = 20\n"
                      << "virtual_shards = 4\ngallery = 0\n[grid]\n\"optim.lr\" = [0.01, 0.1]\n"
                      << "[halving]\nrungs = [5, 20]\n";
  const auto run = testing::run_normscale("study run --cores 1 " + shell_quote(file.string()));
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("has no validation split (data.source = \"separable-2d\" generates none), but the "
                                    "study promotes trials (halving) by the validation error"));
  EXPECT_THAT(run.output, HasSubstr("data.validation = N"));
  EXPECT_FALSE(fs::exists(dir_ / "unvalidated.db")) << "refused before the database was made";
}

}  // namespace
}  // namespace normscale
