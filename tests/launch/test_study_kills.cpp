// A study scheduler killed with SIGKILL at random moments (and some trials' trainers killed while no
// scheduler watched them) loses nothing: restarted each time, it adopts the trials still running, records
// those that finished meanwhile and resumes those that died, and the study ends with every trial done and
// the same results as an uninterrupted study's.
#include "normscale/core/host_name.hpp"
#include "normscale/study/child_process.hpp"
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/trial_lifecycle.hpp"
#include "normscale/study/trial_process.hpp"
#include "normscale/study/trial_store.hpp"
#include "support/blobs.hpp"
#include "support/read_file.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

using testing::write_blobs;

// 16 small trials (4 learning rates x 4 seeds), about a second each: long enough to be caught running, also on a loaded
// machine (started without mpirun since 2026-12-06, trials of 1000 and 30000 steps ended before one was adopted).
std::string study_text(const fs::path& data) {
  return "name = \"kills\"\nsteps = 100000\nseeds = [1, 2, 3, 4]\n[base]\n\"data.source\" = \"npy\"\n"
         "\"data.path\" = '" + data.string() + "'\n\"data.validation\" = 100\n\"data.preprocess\" = \"none\"\n"
         "\"model.hidden\" = [8]\n\"objective.regime\" = \"sgd\"\n\"optim.batch\" = 20\nvirtual_shards = 8\n"
         "eval_every = 5000\ncheckpoint_every = 5000\ngallery = 0\nthreads = 1\n"
         "[grid]\n\"optim.lr\" = [0.02, 0.05, 0.1, 0.2]\n";
}

using testing::read_file;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Figures that measure time, not the trajectory, differ between any two runs.
bool timing_figure(const std::string& key) {
  return key == "wall_seconds" || key == "train_seconds" || key == "seconds_to_target";
}

// The trainer (rank 0) of a trial that is running now: the live process named in its run.lock, whose
// command line trains into that directory. 0 when none.
pid_t live_trainer(const fs::path& trial_dir) {
  const auto holder = nlohmann::json::parse(read_file(trial_dir / "run.lock"), nullptr, false);
  if (holder.is_discarded() || !holder.is_object() || !holder.contains("pid")) return 0;
  const auto pid = holder["pid"].get<pid_t>();
  const std::string command = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  return command.find(trial_dir.string()) != std::string::npos && process_start(pid).has_value() ? pid : 0;
}

// Waits up to a minute for `condition`; its last answer.
template <class Condition>
bool wait_for(Condition&& condition) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!condition() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return condition();
}

class StudyKills : public testing::TempDirTest {
 protected:
  StudyKills() : TempDirTest("normscale_study_kills_") {}

  // `folder`/kills.toml of one trial (lr 0.05, seed 1) of `steps` steps on `ranks` ranks.
  fs::path write_one_trial_study(const std::string& steps, int ranks = 1, const fs::path& folder = {}) {
    write_blobs(dir_ / "data");
    std::string text = study_text(dir_ / "data");
    text.replace(text.find("steps = 100000"), 14, "steps = " + steps + "\nranks = [" + std::to_string(ranks) + "]");
    text.replace(text.find("seeds = [1, 2, 3, 4]"), 20, "seeds = [1]");
    text.replace(text.find("[0.02, 0.05, 0.1, 0.2]"), 22, "[0.05]");
    const fs::path file = (folder.empty() ? dir_ : folder) / "kills.toml";
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file;
  }

  // The one-trial study of 400000 steps run uninterrupted into reference/, then again with `signal` sent to its
  // trainer once it runs: what the scheduler said (it must end with exit code 0) and the trial's directory (empty
  // when no trainer was caught running).
  std::pair<std::string, fs::path> signal_the_one_trial(int signal) {
    const auto reference = testing::run_normscale(
        "study run --cores 1 " + shell_quote(write_one_trial_study("400000", 1, dir_ / "reference").string()));
    EXPECT_EQ(reference.exit_code, 0) << reference.output;
    const auto [pid, trial_dir] = start_scheduler(write_one_trial_study("400000"), dir_ / "scheduler.txt");
    const pid_t trainer = trial_dir.empty() ? 0 : live_trainer(trial_dir);
    if (trainer != 0) kill(trainer, signal);
    const int code = wait_child(pid);
    const std::string said = read_file(dir_ / "scheduler.txt");
    EXPECT_EQ(code, 0) << said;
    return {said, trainer != 0 ? trial_dir : fs::path()};
  }

  // The one trial of kills.db trained to the results of the one of reference/kills.db (write_one_trial_study's):
  // every evaluation's figures equal.
  void expect_the_reference_trial() const {
    const TrialStore store(dir_ / "kills.db");
    const TrialStore expected(dir_ / "reference" / "kills.db");
    ASSERT_EQ(store.trials().size(), 1U);
    EXPECT_EQ(store.trials()[0].state, TrialState::kDone) << store.trials()[0].log_tail;
    const std::vector<MetricRow> rows = store.metrics(store.trials()[0].id);
    const std::vector<MetricRow> want_rows = expected.metrics(store.trials()[0].id);
    ASSERT_EQ(rows.size(), 81U);  // steps 0, 5000, ..., 400000, each once
    ASSERT_EQ(want_rows.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].step, want_rows[i].step);
      const auto row = nlohmann::json::parse(rows[i].json);
      const auto want_row = nlohmann::json::parse(want_rows[i].json);
      for (const char* key : {"train_loss", "validation_error", "weight_norm"}) {
        EXPECT_EQ(row.at(key), want_row.at(key)) << "step " << rows[i].step << " " << key;
      }
    }
  }

  // The run directory of a running trial whose trainer is live; empty when none is.
  fs::path running_trial_dir() const {
    if (!fs::exists(dir_ / "kills.db")) return {};
    for (const TrialRecord& trial : TrialStore(dir_ / "kills.db").trials(TrialState::kRunning)) {
      if (live_trainer(dir_ / "kills.runs" / trial.id) != 0) return dir_ / "kills.runs" / trial.id;
    }
    return {};
  }

  // The scheduler of `file` started in the background (its output in `output`), once one of its trials runs: that
  // trial's directory (empty when none ran within a minute).
  std::pair<pid_t, fs::path> start_scheduler(const fs::path& file, const fs::path& output) {
    ChildSpec scheduler;
    scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "2", file.string()};
    scheduler.output = output;
    const pid_t pid = spawn_child(scheduler);
    fs::path trial_dir;
    wait_for([&] { return !(trial_dir = running_trial_dir()).empty(); });
    return {pid, trial_dir};
  }
};

TEST_F(StudyKills, SchedulerKilledFiveTimesEndsWithTheUninterruptedResults) {
  write_blobs(dir_ / "data");
  const fs::path reference_dir = dir_ / "reference";
  const fs::path killed_dir = dir_ / "killed";
  for (const fs::path& dir : {reference_dir, killed_dir}) {
    fs::create_directories(dir);
    std::ofstream(dir / "kills.toml") << study_text(dir_ / "data");
  }

  auto start = Clock::now();
  const auto reference =
      testing::run_normscale("study run --cores 2 " + shell_quote((reference_dir / "kills.toml").string()));
  const double reference_seconds = seconds_since(start);
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  // Seeded, so a failure can be replayed: when each scheduler is killed, and how long none runs.
  std::mt19937 random(18);
  std::uniform_real_distribution<double> lifetime(0.2, 1.2);
  std::uniform_real_distribution<double> pause(0.0, 0.4);
  const fs::path file = killed_dir / "kills.toml";
  const fs::path db = killed_dir / "kills.db";
  const fs::path log = killed_dir / "schedulers.txt";
  int trainers_killed = 0;
  start = Clock::now();
  // A live trainer of a running trial past its first checkpoint and not finished (0 when none).
  const auto trainer_to_kill = [&]() -> std::pair<pid_t, fs::path> {
    if (!fs::exists(db)) return {0, {}};
    const TrialStore store(db);
    for (const TrialRecord& trial : store.trials(TrialState::kRunning)) {
      const fs::path dir = killed_dir / "kills.runs" / trial.id;
      const pid_t trainer = live_trainer(dir);
      if (trainer != 0 && fs::exists(dir / "checkpoints") && !fs::exists(dir / "finished.json")) return {trainer, dir};
    }
    return {0, {}};
  };
  for (int kill_number = 1; kill_number <= 5; ++kill_number) {
    ChildSpec scheduler;
    scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "2", file.string()};
    scheduler.output = log;
    const pid_t pid = spawn_child(scheduler);
    std::this_thread::sleep_for(std::chrono::duration<double>(lifetime(random)));
    // Twice, a trainer dies too while no scheduler follows it: the next one must resume it. This scheduler lives
    // on (up to 30 s) until a trainer is past its first checkpoint: on a loaded machine the random lifetime alone
    // ended every scheduler before one was (a fresh-clone CI run, 2026-12-04).
    const bool kill_a_trainer = kill_number == 2 || kill_number == 4;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (kill_a_trainer && trainer_to_kill().first == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    wait_child(pid);
    if (kill_a_trainer) {
      const auto [trainer, dir] = trainer_to_kill();
      if (trainer != 0) {
        kill(trainer, SIGKILL);
        // A trainer between its finished marker and its exit (MPI_Finalize) was killed after finishing: that is
        // the finished-meanwhile path, not a death.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!fs::exists(dir / "finished.json")) ++trainers_killed;
      }
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(pause(random)));
  }
  const auto last = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  const double killed_seconds = seconds_since(start);
  std::cout << "reference study " << reference_seconds << " s; killed five times and finished " << killed_seconds
            << " s; trainers killed " << trainers_killed << "\n";
  RecordProperty("reference_seconds", std::to_string(reference_seconds));
  RecordProperty("killed_seconds", std::to_string(killed_seconds));
  ASSERT_EQ(last.exit_code, 0) << last.output << read_file(log);
  EXPECT_GE(trainers_killed, 1) << "no trainer was caught running; the died-trial path went untested";
  const std::string schedulers = read_file(log) + last.output;
  EXPECT_THAT(schedulers, HasSubstr("is still running (pid ")) << "no trial was adopted:\n" << schedulers;
  EXPECT_THAT(schedulers, HasSubstr("ended without finishing")) << "no died trial was resumed:\n" << schedulers;
  std::istringstream lines(schedulers);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("normscale study: trial") != std::string::npos) std::cout << line << "\n";
  }

  const TrialStore expected(reference_dir / "kills.db");
  const TrialStore store(db);
  const std::vector<TrialRecord> trials = store.trials();
  ASSERT_EQ(trials.size(), 16U);
  ASSERT_EQ(expected.trials().size(), 16U);
  for (const TrialRecord& trial : trials) {
    const fs::path dir = killed_dir / "kills.runs" / trial.id;
    EXPECT_EQ(trial.state, TrialState::kDone) << trial.id << ": " << trial.log_tail;
    EXPECT_EQ(trial.exit_code, 0) << trial.id;
    // Never two trainers on one trial at once.
    EXPECT_THAT(read_file(dir / "log.txt"), Not(HasSubstr("in use by another training"))) << trial.id;
    std::map<std::string, double> want;
    for (const auto& [key, value] : expected.results(trial.id)) {
      if (!timing_figure(key)) want[key] = value;
    }
    std::map<std::string, double> got;
    for (const auto& [key, value] : store.results(trial.id)) {
      if (!timing_figure(key)) got[key] = value;
    }
    ASSERT_FALSE(want.empty()) << trial.id;
    EXPECT_EQ(got, want) << trial.id;
    // Every evaluation once, and each the same as the uninterrupted run's.
    const std::vector<MetricRow> rows = store.metrics(trial.id);
    const std::vector<MetricRow> want_rows = expected.metrics(trial.id);
    ASSERT_EQ(rows.size(), want_rows.size()) << trial.id;
    ASSERT_EQ(rows.size(), 21U) << trial.id;  // steps 0, 5000, ..., 100000
    for (std::size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].step, want_rows[i].step) << trial.id;
      const auto row = nlohmann::json::parse(rows[i].json);
      const auto want_row = nlohmann::json::parse(want_rows[i].json);
      for (const char* key : {"train_error", "train_loss", "validation_error", "validation_loss", "test_error",
                              "test_loss", "weight_norm", "rho"}) {
        EXPECT_EQ(row.at(key), want_row.at(key)) << trial.id << " step " << rows[i].step << " " << key;
      }
    }
  }
}

// A trainer sent SIGUSR2 (`kill -USR2`, or SLURM's warning where the local scheduler runs in an allocation) stops at a
// checkpoint with exit code 75: the scheduler runs it again from there, to the uninterrupted trial's results (it was
// recorded as failed).
TEST_F(StudyKills, ATrialStoppedAtACheckpointBySigusr2RunsOnFromIt) {
  const auto [said, trial_dir] = signal_the_one_trial(SIGUSR2);
  ASSERT_FALSE(trial_dir.empty()) << said;
  EXPECT_THAT(said, HasSubstr("stopped at a checkpoint (exit code 75: it was sent User defined signal 2); running it "
                              "again (from its newest checkpoint, if any)"));
  EXPECT_THAT(read_file(trial_dir / "log.txt"), HasSubstr("stopped by SIGUSR2 after step"));
  expect_the_reference_trial();
}

// A trainer killed from outside while the scheduler follows it (an operator's kill, the OOM killer) runs again from
// its checkpoint, to the uninterrupted trial's results, as one that died while no scheduler followed it; it was
// recorded failed, so a synchronous halving rung was decided without it. Killed a third time, it counts as failed.
TEST_F(StudyKills, ATrialKilledFromOutsideRunsAgainTwiceThenFails) {
  const auto [said, trial_dir] = signal_the_one_trial(SIGKILL);
  ASSERT_FALSE(trial_dir.empty()) << said;
  EXPECT_THAT(said, HasSubstr("was ended by a signal from outside (Killed, exit code 137; 1 of 2 such ends run again "
                              "before it counts as failed); running it again (from its newest checkpoint, if any)"));
  expect_the_reference_trial();

  // Three kills of one trial in one `study run`: failed, with the killed process's exit code.
  const fs::path again = write_one_trial_study("3000000", 1, dir_ / "again");
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "1", again.string()};
  scheduler.output = dir_ / "again.txt";
  const pid_t again_pid = spawn_child(scheduler);
  std::set<pid_t> killed;
  for (int k = 0; k < 3; ++k) {
    pid_t next = 0;
    wait_for([&] {
      for (const TrialRecord& trial : TrialStore(dir_ / "again" / "kills.db").trials(TrialState::kRunning)) {
        next = live_trainer(dir_ / "again" / "kills.runs" / trial.id);
        if (next != 0 && !killed.contains(next)) return true;
      }
      return false;
    });
    ASSERT_TRUE(next != 0 && !killed.contains(next)) << read_file(dir_ / "again.txt");
    killed.insert(next);
    kill(next, SIGKILL);
  }
  EXPECT_EQ(wait_child(again_pid), 1) << read_file(dir_ / "again.txt");
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "again" / "kills.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kFailed);
  EXPECT_EQ(trials[0].exit_code, 137);
  EXPECT_THAT(read_file(dir_ / "again.txt"), HasSubstr("2 of 2 such ends run again"));
  EXPECT_THAT(read_file(dir_ / "again.txt"),
              HasSubstr("was ended by a signal from outside (Killed) 3 times; it counts as failed"));
}

// A trainer that crashed (SIGSEGV) fails at once; `study run --retry-failed` runs it again from its newest checkpoint
// to the uninterrupted trial's results, and a plain `study run` leaves it failed.
TEST_F(StudyKills, ACrashedTrialFailsAndRetryFailedRunsItOnFromItsCheckpoint) {
  const auto reference = testing::run_normscale(
      "study run --cores 1 " + shell_quote(write_one_trial_study("400000", 1, dir_ / "reference").string()));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;
  const fs::path file = write_one_trial_study("400000");
  const auto [pid, trial_dir] = start_scheduler(file, dir_ / "scheduler.txt");
  ASSERT_FALSE(trial_dir.empty()) << read_file(dir_ / "scheduler.txt");
  const pid_t trainer = live_trainer(trial_dir);
  // A whole checkpoint, as the scheduler judges it (a step folder being written is none).
  ASSERT_TRUE(wait_for([&] { return has_checkpoint(trial_dir); })) << read_file(dir_ / "scheduler.txt");
  ASSERT_NE(trainer, 0);
  kill(trainer, SIGSEGV);
  EXPECT_EQ(wait_child(pid), 1) << read_file(dir_ / "scheduler.txt");
  std::vector<TrialRecord> trials = TrialStore(dir_ / "kills.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kFailed);
  EXPECT_EQ(trials[0].exit_code, 128 + SIGSEGV);

  const auto plain = testing::run_normscale("study run --cores 1 " + shell_quote(file.string()));
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
  EXPECT_EQ(TrialStore(dir_ / "kills.db").trials()[0].state, TrialState::kFailed) << plain.output;
  const auto retried = testing::run_normscale("study run --cores 1 --retry-failed " + shell_quote(file.string()));
  EXPECT_EQ(retried.exit_code, 0) << retried.output;
  EXPECT_THAT(read_file(trial_dir / "log.txt"), HasSubstr(", resuming at step "));
  expect_the_reference_trial();
}

// A local scheduler sent SIGUSR2 (`sbatch --signal=B:USR2@120` around it: its allocation ends soon) stops its trials
// at a checkpoint, 2-rank ones through mpirun too, leaves them pending and exits 75 for its job script to requeue on
// (it died of the signal and left the trial running).
TEST_F(StudyKills, ASchedulerSentSigusr2StopsItsTrialsAtACheckpointAndExits75) {
  const fs::path file = write_one_trial_study("3000000", 2);  // runs for the whole test
  const auto [pid, trial_dir] = start_scheduler(file, dir_ / "scheduler.txt");
  if (!trial_dir.empty()) kill(pid, SIGUSR2);
  const int code = wait_child(pid);
  const std::string said = read_file(dir_ / "scheduler.txt");
  ASSERT_FALSE(trial_dir.empty()) << said;
  EXPECT_EQ(code, 75) << said;
  EXPECT_THAT(said, HasSubstr("User defined signal 2 received; stopping 1 running trial(s) at a checkpoint"));
  EXPECT_THAT(read_file(trial_dir / "log.txt"), HasSubstr("stopped by SIGUSR2 after step"));
  EXPECT_EQ(live_trainer(trial_dir), 0) << "the trainer runs on";
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "kills.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kPending);
}

// A trial that finishes while no scheduler runs is recorded with its own wall time, up to its finished.json, not up to
// the next scheduler's start (the time between counted in: the table's wall time and the ETA were inflated).
TEST_F(StudyKills, ATrialThatFinishedWhileNoSchedulerRanKeepsItsOwnWallTime) {
  const fs::path file = write_one_trial_study("100000");
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "1", file.string()};
  scheduler.output = dir_ / "scheduler.txt";
  const auto start = Clock::now();
  const pid_t pid = spawn_child(scheduler);
  // Killed once the trial runs: the trainer goes on alone.
  fs::path trial_dir;
  wait_for([&] { return !(trial_dir = running_trial_dir()).empty(); });
  kill(pid, SIGKILL);
  wait_child(pid);
  ASSERT_FALSE(trial_dir.empty()) << read_file(dir_ / "scheduler.txt");
  ASSERT_TRUE(wait_for([&] { return fs::exists(trial_dir / "finished.json"); }));
  const double finished_after = seconds_since(start);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // no scheduler runs
  const auto next = testing::run_normscale("study run --cores 1 " + shell_quote(file.string()));
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_THAT(next.output, HasSubstr("finished while no scheduler was following it"));
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "kills.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kDone);
  // The start is recorded to the second.
  EXPECT_GE(trials[0].wall_seconds, 0.0);
  EXPECT_LT(trials[0].wall_seconds, finished_after + 1.0) << "the 4 s without a scheduler were counted in";
  // So is its end: when it wrote finished.json, not when the next scheduler found it.
  std::tm started{};
  std::tm ended{};
  ASSERT_NE(strptime(trials[0].started.c_str(), "%Y-%m-%dT%H:%M:%SZ", &started), nullptr) << trials[0].started;
  ASSERT_NE(strptime(trials[0].finished.c_str(), "%Y-%m-%dT%H:%M:%SZ", &ended), nullptr) << trials[0].finished;
  EXPECT_LT(std::difftime(timegm(&ended), timegm(&started)), finished_after + 1.0)
      << trials[0].started << " to " << trials[0].finished << ": the 4 s without a scheduler were counted in";
}

// A scheduler killed between starting a trial and recording its pid leaves a trial known by its trial.lock alone. The
// next scheduler follows it; stopped by SIGTERM, it cannot signal that trial and says so (it said it stopped it and
// that every unfinished trial was pending, while the trainer ran on and the trial stayed running).
TEST_F(StudyKills, AStopSaysWhichTrialKnownByItsLockAloneItCouldNotStop) {
  const fs::path file = write_one_trial_study("3000000");  // runs for the whole test
  ChildSpec first;
  first.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "1", file.string()};
  first.output = dir_ / "first.txt";
  const pid_t first_pid = spawn_child(first);
  fs::path trial_dir;
  const bool running = wait_for([&] { return !(trial_dir = running_trial_dir()).empty(); });
  kill(first_pid, SIGKILL);
  wait_child(first_pid);
  ASSERT_TRUE(running) << read_file(dir_ / "first.txt");
  const pid_t trainer = live_trainer(trial_dir);
  TrialStore(dir_ / "kills.db").set_process(trial_dir.filename().string(), TrialProcess{});  // no pid recorded

  ChildSpec second = first;
  second.output = dir_ / "second.txt";
  const pid_t second_pid = spawn_child(second);
  const bool following =
      wait_for([&] { return read_file(dir_ / "second.txt").find("(pid unknown); following it") != std::string::npos; });
  kill(second_pid, SIGTERM);
  wait_child(second_pid);
  const std::string said = read_file(dir_ / "second.txt");
  const bool trainer_alive = kill(trainer, 0) == 0;
  if (trainer != 0) kill(trainer, SIGKILL);
  ASSERT_TRUE(following) << said;
  EXPECT_THAT(said,
              HasSubstr("stopping 0 running trial(s); 1 known by its trial.lock alone (no pid recorded) cannot be "
                        "stopped from here and stays running, for the next scheduler to follow: " +
                        trial_dir.filename().string()));
  EXPECT_THAT(said, HasSubstr("the unfinished trials are pending (1 still running: the next run follows it)"));
  EXPECT_TRUE(trainer_alive);
  EXPECT_EQ(TrialStore(dir_ / "kills.db").trials(TrialState::kRunning).size(), 1U);
}

// Two schedulers on one study would start every trial twice: the second is refused while the first runs,
// and the first finishes the study undisturbed.
TEST_F(StudyKills, ASecondSchedulerOnARunningStudyIsRefusedAndTheFirstFinishes) {
  write_blobs(dir_ / "data");
  const fs::path file = dir_ / "kills.toml";
  std::ofstream(file) << study_text(dir_ / "data");
  ChildSpec first;
  first.argv = {NORMSCALE_BINARY, "study", "run", "--cores", "2", file.string()};
  first.output = dir_ / "first.txt";
  const pid_t pid = spawn_child(first);
  // Wait until the first has trials running, so it holds the study.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  bool running = false;
  while (!running && Clock::now() < deadline) {
    if (fs::exists(dir_ / "kills.db")) running = !TrialStore(dir_ / "kills.db").trials(TrialState::kRunning).empty();
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(running) << read_file(dir_ / "first.txt");

  const auto second = testing::run_normscale("study run --cores 2 " + shell_quote(file.string()));
  EXPECT_NE(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("another `normscale study run` is running this study")) << second.output;
  EXPECT_THAT(second.output, HasSubstr(fmt::format("host {}, pid {}", host_name(), pid))) << second.output;

  EXPECT_EQ(wait_child(pid), 0) << read_file(dir_ / "first.txt");
  const TrialStore store(dir_ / "kills.db");
  ASSERT_EQ(store.trials().size(), 16U);
  for (const TrialRecord& trial : store.trials()) EXPECT_EQ(trial.state, TrialState::kDone) << trial.id;
}

}  // namespace
}  // namespace normscale
